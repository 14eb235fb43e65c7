import type { HealthReport } from '@mosaic/orchestrator-contract';
import type { ApiClient } from '../api/client';
import { usePoll } from '../ui/use-poll';

const POLL_MS = 5_000;

export type Health =
  | { readonly state: 'unknown' }
  | { readonly state: 'up'; readonly active?: number; readonly capacity?: number; readonly queued?: number }
  | { readonly state: 'down'; readonly circuitOpen: boolean; readonly message: string }
  | { readonly state: 'api-unreachable' };

/** What `GET /health/orchestrator` says, every 5 s: 200 up, 503 down (with terminus's details). */
export function useOrchestratorHealth(client: ApiClient): Health {
  return usePoll(client, POLL_MS, check) ?? UNKNOWN;
}

const UNKNOWN: Health = { state: 'unknown' };

async function check(client: ApiClient, signal: AbortSignal): Promise<Health> {
  let response: Response;
  let report: HealthReport;
  try {
    response = await client.fetchRaw('/health/orchestrator', signal);
    report = (await response.json()) as HealthReport;
  } catch {
    return { state: 'api-unreachable' };
  }
  // A proxy's answer is no report: read it as far as it is one.
  const orchestrator = report.details?.orchestrator;
  if (response.ok && orchestrator?.status !== 'down' && orchestrator?.circuit !== 'open') {
    return { state: 'up', active: orchestrator?.active_sessions, capacity: orchestrator?.capacity, queued: orchestrator?.queued_sessions };
  }
  const down = orchestrator?.status === 'down' ? orchestrator : undefined;
  return {
    state: 'down',
    circuitOpen: orchestrator?.circuit === 'open' || down?.reason === 'circuit_open',
    message: down?.message ?? `the health check answered ${response.status}`,
  };
}
