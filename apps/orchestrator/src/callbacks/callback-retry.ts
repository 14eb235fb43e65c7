import { DelegateBackoff, ExponentialBackoff, handleWhen, retry, type IBackoff, type IRetryBackoffContext, type RetryPolicy } from 'cockatiel';

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

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds from `now`. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
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
 * A cockatiel retry policy for one event: exponential backoff with decorrelated jitter
 * (cockatiel's default generator), stretched to a longer `Retry-After` when the receiver
 * sent one, and every delay clipped so that no attempt starts after the deadline.
 */
export function callbackRetryPolicy(options: CallbackRetryOptions): RetryPolicy {
  const now = options.now ?? Date.now;
  const deadline = now() + options.maxRetryMs;
  const exponential = new ExponentialBackoff({ initialDelay: options.initialDelayMs ?? 100, maxDelay: options.maxDelayMs ?? 30_000 });
  const backoff = new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown> | undefined>((context, previous) => {
    const next = previous ? previous.next(context) : exponential.next();
    const retryAfterMs = 'error' in context.result && context.result.error instanceof CallbackHttpError ? context.result.error.retryAfterMs : undefined;
    const delay = Math.min(Math.max(next.duration, retryAfterMs ?? 0), Math.max(0, deadline - now()));
    return { delay, state: next };
  });
  const shouldRetry = (error: Error) => isRetryableCallbackError(error) && now() < deadline && !options.isStopped?.();
  return retry(handleWhen(shouldRetry), { maxAttempts: Number.POSITIVE_INFINITY, backoff });
}
