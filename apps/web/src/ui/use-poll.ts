import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';

/**
 * What `read` answers, asked now and then `intervalMs` after each answer (never
 * two at once); undefined until the first. An answer of undefined keeps the
 * last value. `read` must be stable (a module-level function), or every render
 * would start the polling over.
 */
export function usePoll<T>(
  client: ApiClient,
  intervalMs: number,
  read: (client: ApiClient, signal: AbortSignal) => Promise<T | undefined>,
): T | undefined {
  const [value, setValue] = useState<T | undefined>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      const next = await read(client, controller.signal);
      if (controller.signal.aborted) return;
      if (next !== undefined) setValue(next);
      timer = setTimeout(() => void poll(), intervalMs);
    };
    // The first poll runs at once; poll shows its own failures.
    void poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [client, intervalMs, read]);
  return value;
}
