import { retryBackoff } from '@mosaic/http-kit';
import { handleWhen, retry, type RetryPolicy } from 'cockatiel';

/** An answer other than 2xx from the callback receiver. */
export class CallbackHttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`callback answered ${status}`);
  }
}

/**
 * Worth another attempt: the receiver could not be reached or timed out, had a fault
 * of its own (5xx), or asked us to slow down (408, 429). Any other answer will not
 * change on a retry.
 */
export function isRetryableCallbackError(error: unknown): boolean {
  if (error instanceof CallbackHttpError) return error.status >= 500 || error.status === 408 || error.status === 429;
  return true;
}

export interface CallbackRetryOptions {
  /** Total time an event may spend being retried, from its first attempt. */
  maxRetryMs: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stops retrying at once (shutdown). */
  isStopped?: () => boolean;
  now?: () => number;
}

/**
 * A cockatiel retry policy for one event: exponential backoff with jitter, stretched
 * to a longer `Retry-After` when the receiver sent one, and every delay clipped so
 * that no attempt starts after the deadline.
 */
export function callbackRetryPolicy(options: CallbackRetryOptions): RetryPolicy {
  const now = options.now ?? Date.now;
  const deadline = now() + options.maxRetryMs;
  const backoff = retryBackoff({
    initialDelayMs: options.initialDelayMs ?? 100,
    maxDelayMs: options.maxDelayMs ?? 30_000,
    retryAfterMs: (error) => (error instanceof CallbackHttpError ? error.retryAfterMs : undefined),
    longestDelayMs: () => Math.max(0, deadline - now()),
  });
  const shouldRetry = (error: Error) => isRetryableCallbackError(error) && now() < deadline && !options.isStopped?.();
  return retry(handleWhen(shouldRetry), { maxAttempts: Number.POSITIVE_INFINITY, backoff });
}
