import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';

const POLL_MS = 10_000;

/** `GET /usage/today`: what all agents spent today (UTC), and MOSAIC_DAILY_COST_LIMIT_USD. */
export interface DailyUsage {
  readonly day: string;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cost_usd: number;
  readonly daily_cost_limit_usd: number | null;
}

/** The day's spend, every 10 s; undefined until the first answer (or when the API does not give it). */
export function useDailyUsage(client: ApiClient): DailyUsage | undefined {
  const [usage, setUsage] = useState<DailyUsage | undefined>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await client.request<DailyUsage>('GET', '/usage/today', undefined, controller.signal);
        if (!controller.signal.aborted) setUsage(next);
      } catch {
        // The health banner says when the API is unreachable; the spend just stays as last read.
      }
      if (!controller.signal.aborted) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [client]);
  return usage;
}

/** `$1.23 of $50 today`, or `$1.23 today` without a limit. */
export function describeSpend(usage: DailyUsage): string {
  const spent = `$${usage.cost_usd.toFixed(2)}`;
  return usage.daily_cost_limit_usd === null ? `${spent} today` : `${spent} of $${usage.daily_cost_limit_usd.toFixed(2)} today`;
}
