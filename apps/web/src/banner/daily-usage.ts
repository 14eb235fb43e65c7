import type { DailyUsage } from '@mosaic/orchestrator-contract';
import type { ApiClient } from '../api/client';
import { usePoll } from '../ui/use-poll';

const POLL_MS = 10_000;

/** The day's spend, every 10 s; undefined until the first answer (or when the API does not give it). */
export function useDailyUsage(client: ApiClient): DailyUsage | undefined {
  return usePoll(client, POLL_MS, readDailyUsage);
}

/** The health banner says when the API is unreachable; the spend just stays as last read. */
function readDailyUsage(client: ApiClient, signal: AbortSignal): Promise<DailyUsage | undefined> {
  return client.request<DailyUsage>('GET', '/usage/today', undefined, signal).catch(() => undefined);
}

/** `$1.23 of $50 today`, or `$1.23 today` without a limit. */
export function describeSpend(usage: DailyUsage): string {
  const spent = `$${usage.cost_usd.toFixed(2)}`;
  return usage.daily_cost_limit_usd === null ? `${spent} today` : `${spent} of $${usage.daily_cost_limit_usd.toFixed(2)} today`;
}
