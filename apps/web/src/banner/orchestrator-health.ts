import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';
import type { OrchestratorHealth } from '../api/types';

const POLL_MS = 5_000;

export type Health =
  | { readonly state: 'unknown' }
  | { readonly state: 'up'; readonly active?: number; readonly capacity?: number; readonly queued?: number }
  | { readonly state: 'down'; readonly circuitOpen: boolean; readonly message: string }
  | { readonly state: 'api-unreachable' };

/** What `GET /health/orchestrator` says, every 5 s: 200 up, 503 down (with terminus's details). */
export function useOrchestratorHealth(client: ApiClient): Health {
  const [health, setHealth] = useState<Health>({ state: 'unknown' });
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      const next = await check(client, controller.signal);
      if (controller.signal.aborted) return;
      setHealth(next);
      timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [client]);
  return health;
}

async function check(client: ApiClient, signal: AbortSignal): Promise<Health> {
  let response: Response;
  let report: OrchestratorHealth;
  try {
    response = await client.fetchRaw('/health/orchestrator', signal);
    report = (await response.json()) as OrchestratorHealth;
  } catch {
    return { state: 'api-unreachable' };
  }
  const orchestrator = report.details?.orchestrator;
  if (response.ok && orchestrator?.status !== 'down' && orchestrator?.circuit !== 'open') {
    return { state: 'up', active: orchestrator?.active_sessions, capacity: orchestrator?.capacity, queued: orchestrator?.queued_sessions };
  }
  return {
    state: 'down',
    circuitOpen: orchestrator?.circuit === 'open' || orchestrator?.reason === 'circuit_open',
    message: orchestrator?.message ?? `the health check answered ${response.status}`,
  };
}
