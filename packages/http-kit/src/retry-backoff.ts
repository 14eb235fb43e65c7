import { DelegateBackoff, ExponentialBackoff, type IBackoff, type IBackoffFactory, type IRetryBackoffContext } from 'cockatiel';

export interface RetryBackoffOptions {
  initialDelayMs: number;
  /** The exponential part's cap. */
  maxDelayMs: number;
  /** What a failed attempt asked for, in milliseconds (its `Retry-After`); undefined when it asked nothing. */
  retryAfterMs: (error: Error) => number | undefined;
  /** The longest any one delay may be, a `Retry-After` included; asked at every retry. Default: `maxDelayMs`. */
  longestDelayMs?: () => number;
}

/**
 * A cockatiel retry backoff: exponential with decorrelated jitter (cockatiel's
 * default generator), stretched to what the failure asked for when it asked
 * longer, and never past `longestDelayMs`.
 */
export function retryBackoff(options: RetryBackoffOptions): IBackoffFactory<IRetryBackoffContext<unknown>> {
  const exponential = new ExponentialBackoff({ initialDelay: options.initialDelayMs, maxDelay: options.maxDelayMs });
  const longestDelayMs = options.longestDelayMs ?? (() => options.maxDelayMs);
  return new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>>((context, previous) => {
    const step = previous ? previous.next(context) : exponential.next();
    const asked = 'error' in context.result ? options.retryAfterMs(context.result.error) : undefined;
    return { delay: Math.min(Math.max(step.duration, asked ?? 0), longestDelayMs()), state: step };
  });
}
