import { CallbackHttpError, callbackRetryPolicy, isRetryableCallbackError } from './callback-retry';

describe('isRetryableCallbackError', () => {
  it('retries network failures, 5xx, 408 and 429, and nothing else', () => {
    expect(isRetryableCallbackError(new TypeError('fetch failed'))).toBe(true);
    for (const status of [500, 502, 503, 408, 429]) expect(isRetryableCallbackError(new CallbackHttpError(status, undefined))).toBe(true);
    for (const status of [301, 400, 401, 404, 413, 422])
      expect(isRetryableCallbackError(new CallbackHttpError(status, undefined))).toBe(false);
  });
});

describe('callbackRetryPolicy', () => {
  it('retries a retryable failure until it succeeds', async () => {
    const attempt = jest
      .fn()
      .mockRejectedValueOnce(new CallbackHttpError(500, undefined))
      .mockRejectedValueOnce(new TypeError('fetch failed'))
      .mockResolvedValue('ok');
    const policy = callbackRetryPolicy({ maxRetryMs: 10_000, initialDelayMs: 1, maxDelayMs: 5 });
    await expect(policy.execute(attempt)).resolves.toBe('ok');
    expect(attempt).toHaveBeenCalledTimes(3);
  });

  it('does not retry a 4xx', async () => {
    const attempt = jest.fn().mockRejectedValue(new CallbackHttpError(400, undefined));
    await expect(callbackRetryPolicy({ maxRetryMs: 10_000, initialDelayMs: 1 }).execute(attempt)).rejects.toMatchObject({ status: 400 });
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('waits at least Retry-After, within the deadline', async () => {
    const delays: number[] = [];
    const policy = callbackRetryPolicy({ maxRetryMs: 10_000, initialDelayMs: 1, maxDelayMs: 5 });
    policy.onRetry(({ delay }) => delays.push(delay));
    const attempt = jest.fn().mockRejectedValueOnce(new CallbackHttpError(503, 40)).mockResolvedValue('ok');
    await policy.execute(attempt);
    expect(delays).toEqual([40]);
  });

  it('gives up once the total retry time is spent, never waiting past it', async () => {
    let now = 0;
    const delays: number[] = [];
    const policy = callbackRetryPolicy({ maxRetryMs: 1_000, initialDelayMs: 400, maxDelayMs: 400, now: () => now });
    policy.onRetry(({ delay }) => {
      delays.push(delay);
      now += delay;
    });
    const attempt = jest.fn().mockImplementation(async () => {
      now += 100;
      throw new CallbackHttpError(503, 600);
    });
    await expect(policy.execute(attempt)).rejects.toMatchObject({ status: 503 });
    expect(delays.every((delay) => delay <= 1_000)).toBe(true);
    expect(now).toBeLessThanOrEqual(1_000 + 100);
    expect(attempt.mock.calls.length).toBeGreaterThan(1);
  });

  it('stops at once when told to', async () => {
    const attempt = jest.fn().mockRejectedValue(new CallbackHttpError(500, undefined));
    await expect(callbackRetryPolicy({ maxRetryMs: 10_000, isStopped: () => true }).execute(attempt)).rejects.toMatchObject({
      status: 500,
    });
    expect(attempt).toHaveBeenCalledTimes(1);
  });
});
