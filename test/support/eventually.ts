import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `check` until it returns without throwing, and answers what it returned. `check` holds the
 * test's own assertions (`expect`, or a thrown Error naming what is still missing), so that a
 * timeout fails with the last of its messages rather than a bare "timed out". Tried at least once,
 * and again every `intervalMs` until `timeoutMs` has passed.
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs: number, intervalMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (performance.now() >= deadline) {
        if (error instanceof Error) error.message = `still failing after ${timeoutMs} ms: ${error.message}`;
        throw error;
      }
    }
    await sleep(intervalMs);
  }
}
