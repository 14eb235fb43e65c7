import { handleAll, retry } from 'cockatiel';
import { retryBackoff, type RetryBackoffOptions } from './retry-backoff';

class AskedToWait extends Error {
  constructor(readonly retryAfterMs: number | undefined) {
    super('try again later');
  }
}

const retryAfterMs = (error: Error) => (error instanceof AskedToWait ? error.retryAfterMs : undefined);

/** The delays a policy with this backoff waits while `failures` fail one after another, then one attempt succeeds. */
async function delaysFor(options: Omit<RetryBackoffOptions, 'retryAfterMs'>, failures: Error[]): Promise<number[]> {
  const delays: number[] = [];
  const policy = retry(handleAll, { maxAttempts: failures.length, backoff: retryBackoff({ ...options, retryAfterMs }) });
  policy.onRetry(({ delay }) => delays.push(delay));
  const attempt = jest.fn();
  for (const failure of failures) attempt.mockRejectedValueOnce(failure);
  await policy.execute(attempt.mockResolvedValue('ok'));
  return delays;
}

describe('retryBackoff', () => {
  it('grows exponentially with jitter, never past maxDelayMs', async () => {
    const delays = await delaysFor(
      { initialDelayMs: 1, maxDelayMs: 8 },
      Array.from({ length: 8 }, () => new Error('down')),
    );
    expect(delays).toHaveLength(8);
    expect(delays.every((delay) => delay >= 0 && delay <= 8)).toBe(true);
    expect(delays.slice(-3).some((delay) => delay > 1)).toBe(true);
  });

  it('waits at least what the failure asked, up to maxDelayMs by default', async () => {
    expect(await delaysFor({ initialDelayMs: 1, maxDelayMs: 30 }, [new AskedToWait(20)])).toEqual([20]);
    expect(await delaysFor({ initialDelayMs: 1, maxDelayMs: 30 }, [new AskedToWait(60)])).toEqual([30]);
  });

  it('keeps its own delay when the failure asked for less', async () => {
    const [delay] = await delaysFor({ initialDelayMs: 20, maxDelayMs: 20 }, [new AskedToWait(0)]);
    expect(delay).toBeGreaterThan(0);
  });

  it('lets a Retry-After go past maxDelayMs up to longestDelayMs, which bounds every delay', async () => {
    expect(await delaysFor({ initialDelayMs: 1, maxDelayMs: 5, longestDelayMs: () => 50 }, [new AskedToWait(40)])).toEqual([40]);
    expect(await delaysFor({ initialDelayMs: 1, maxDelayMs: 5, longestDelayMs: () => 25 }, [new AskedToWait(40)])).toEqual([25]);
    expect(await delaysFor({ initialDelayMs: 30, maxDelayMs: 30, longestDelayMs: () => 0 }, [new Error('down')])).toEqual([0]);
  });

  it('starts over for every execution of a policy', async () => {
    const policy = retry(handleAll, { maxAttempts: 1, backoff: retryBackoff({ initialDelayMs: 1, maxDelayMs: 1_000, retryAfterMs }) });
    const delays: number[] = [];
    policy.onRetry(({ delay }) => delays.push(delay));
    for (let run = 0; run < 5; run++) await policy.execute(jest.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValue('ok'));
    // A first delay stays near initialDelayMs; one carried over from earlier runs would have grown.
    expect(delays.every((delay) => delay < 5)).toBe(true);
  });
});
