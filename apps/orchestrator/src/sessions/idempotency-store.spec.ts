import { fingerprintOf, IdempotencyKeyReusedError, IdempotencyStore } from './idempotency-store';

describe('IdempotencyStore', () => {
  it('runs once per key and replays the outcome for the same fingerprint', async () => {
    const store = new IdempotencyStore<string>();
    const run = jest.fn(async () => 'session-1');
    expect(await store.execute('k', 'f', run)).toEqual({ value: 'session-1', replayed: false });
    expect(await store.execute('k', 'f', run)).toEqual({ value: 'session-1', replayed: true });
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('makes a concurrent duplicate wait for the first run instead of running again', async () => {
    const store = new IdempotencyStore<string>();
    let finish: (value: string) => void = () => undefined;
    const run = jest.fn(() => new Promise<string>((resolve) => (finish = resolve)));
    const first = store.execute('k', 'f', run);
    const second = store.execute('k', 'f', run);
    finish('session-1');
    expect(await Promise.all([first, second])).toEqual([
      { value: 'session-1', replayed: false },
      { value: 'session-1', replayed: true },
    ]);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('refuses the key with a different fingerprint', async () => {
    const store = new IdempotencyStore<string>();
    await store.execute('k', 'f', async () => 'session-1');
    await expect(store.execute('k', 'other', async () => 'session-2')).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it('forgets a failed run, so a retry with the same key runs again', async () => {
    const store = new IdempotencyStore<string>();
    await expect(store.execute('k', 'f', async () => Promise.reject(new Error('at capacity')))).rejects.toThrow('at capacity');
    expect(await store.execute('k', 'f', async () => 'session-1')).toEqual({ value: 'session-1', replayed: false });
  });

  it('runs a forgotten key again, with any body, and keeps the other keys', async () => {
    const store = new IdempotencyStore<string>();
    await store.execute('k', 'f', async () => 'session-1');
    await store.execute('other', 'f', async () => 'session-2');
    store.forget('k');
    expect(await store.execute('k', 'another body', async () => 'session-3')).toEqual({ value: 'session-3', replayed: false });
    expect(await store.execute('other', 'f', async () => 'session-4')).toEqual({ value: 'session-2', replayed: true });
  });
});

describe('fingerprintOf', () => {
  it('ignores key order at every depth but not values', () => {
    expect(fingerprintOf({ a: 1, b: { c: [1, { d: 2, e: 3 }] } })).toBe(fingerprintOf({ b: { c: [1, { e: 3, d: 2 }] }, a: 1 }));
    expect(fingerprintOf({ a: 1 })).not.toBe(fingerprintOf({ a: 2 }));
    expect(fingerprintOf({ a: [1, 2] })).not.toBe(fingerprintOf({ a: [2, 1] }));
    expect(fingerprintOf({ a: '1' })).not.toBe(fingerprintOf({ a: 1 }));
  });
});
