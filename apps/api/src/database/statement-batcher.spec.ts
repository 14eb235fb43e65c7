import { StatementBatcher } from './statement-batcher';

interface Item {
  readonly key: string;
  readonly value: number;
}

/** A batcher whose batches wait until the test releases them, recording what each held. */
class TimedOut extends Error {}

/** Bounds and failure rules of the tests' batchers, unless a test says otherwise. */
const LIMITS = {
  maxQueued: 1000,
  overloaded: () => new Error('overloaded'),
  maxWaitMs: 60_000,
  waitedTooLong: () => new Error('waited too long'),
  retryAlone: (error: unknown) => !(error instanceof TimedOut),
};

function controlledBatcher(
  options: {
    maxInFlight?: number;
    maxBatchSize?: number;
    maxQueued?: number;
    maxWaitMs?: number;
    fails?: (items: readonly Item[]) => Error | undefined;
  } = {},
) {
  const batches: Item[][] = [];
  const releases: (() => void)[] = [];
  const batcher = new StatementBatcher<Item, number>({
    ...LIMITS,
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
    ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
    maxInFlight: options.maxInFlight ?? 1,
    maxBatchSize: options.maxBatchSize ?? 100,
    keyOf: (item) => item.key,
    run: async (items) => {
      batches.push([...items]);
      await new Promise<void>((resolve) => releases.push(resolve));
      const failure = options.fails?.(items);
      if (failure) throw failure;
      return items.map((item) => item.value * 10);
    },
  });
  const releaseAll = async () => {
    // Each release may start the next batch; keep releasing until nothing is left waiting.
    for (let rounds = 0; rounds < 50; rounds += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      const waiting = releases.splice(0);
      if (waiting.length === 0) return;
      for (const release of waiting) release();
    }
  };
  return { batcher, batches, releaseAll };
}

const item = (key: string, value: number): Item => ({ key, value });

describe('StatementBatcher', () => {
  it('runs an item at once, alone, when nothing else is running', async () => {
    const { batcher, batches, releaseAll } = controlledBatcher();
    const result = batcher.submit(item('a', 1));

    expect(batches).toEqual([[item('a', 1)]]);
    await releaseAll();
    await expect(result).resolves.toBe(10);
  });

  it('runs the items that arrive while the batches in flight run together, in the next batch, each with its own result', async () => {
    const { batcher, batches, releaseAll } = controlledBatcher({ maxInFlight: 2 });
    const results = [1, 2, 3, 4, 5].map((value) => batcher.submit(item(`k${value}`, value)));

    expect(batches).toEqual([[item('k1', 1)], [item('k2', 2)]]);
    await releaseAll();
    await expect(Promise.all(results)).resolves.toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[item('k1', 1)], [item('k2', 2)], [item('k3', 3), item('k4', 4), item('k5', 5)]]);
  });

  it('never puts two items with the same key in one batch, and keeps their order', async () => {
    const { batcher, batches, releaseAll } = controlledBatcher();
    const results = [item('busy', 0), item('a', 1), item('a', 2), item('b', 3), item('a', 4)].map((queued) => batcher.submit(queued));

    await releaseAll();
    await expect(Promise.all(results)).resolves.toEqual([0, 10, 20, 30, 40]);
    expect(batches).toEqual([[item('busy', 0)], [item('a', 1), item('b', 3)], [item('a', 2)], [item('a', 4)]]);
  });

  it('takes no more than the batch size at a time', async () => {
    const { batcher, batches, releaseAll } = controlledBatcher({ maxBatchSize: 2 });
    const results = [0, 1, 2, 3, 4].map((value) => batcher.submit(item(`k${value}`, value)));

    await releaseAll();
    await expect(Promise.all(results)).resolves.toEqual([0, 10, 20, 30, 40]);
    expect(batches.map((batch) => batch.length)).toEqual([1, 2, 2]);
  });

  it('runs a failed batch again item by item, so only the item that fails alone is refused', async () => {
    const { batcher, batches, releaseAll } = controlledBatcher({
      fails: (items) => (items.some((queued) => queued.key === 'bad') ? new Error(`batch of ${items.length} failed`) : undefined),
    });
    const results = [item('busy', 0), item('a', 1), item('bad', 2), item('b', 3)].map((queued) => batcher.submit(queued));
    const settled = Promise.allSettled(results);

    await releaseAll();
    expect((await settled).map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : (outcome.reason as Error).message))).toEqual([
      0,
      10,
      'batch of 1 failed',
      30,
    ]);
    expect(batches).toEqual([
      [item('busy', 0)],
      [item('a', 1), item('bad', 2), item('b', 3)],
      [item('a', 1)],
      [item('bad', 2)],
      [item('b', 3)],
    ]);
  });

  it('refuses a batch whose results do not match its items, rather than answering an item with another’s result', async () => {
    let calls = 0;
    const batcher = new StatementBatcher<Item, number>({
      ...LIMITS,
      maxInFlight: 1,
      maxBatchSize: 10,
      keyOf: (queued) => queued.key,
      run: async (items) => {
        calls += 1;
        return calls === 2 ? [1] : items.map((queued) => queued.value);
      },
    });
    const results = [item('busy', 0), item('a', 1), item('b', 2)].map((queued) => batcher.submit(queued));

    // The second batch (a, b) gave one result for two items: each is run again alone.
    await expect(Promise.all(results)).resolves.toEqual([0, 1, 2]);
    expect(calls).toBe(4);
  });

  it('refuses an item over the queue bound at once, with the overload error, and takes items again once there is room', async () => {
    const { batcher, releaseAll } = controlledBatcher({ maxQueued: 2 });
    const accepted = [1, 2, 3].map((value) => batcher.submit(item(`k${value}`, value)));

    expect(batcher.queued).toBe(2);
    await expect(batcher.submit(item('k4', 4))).rejects.toThrow('overloaded');
    await releaseAll();
    await expect(Promise.all(accepted)).resolves.toEqual([10, 20, 30]);
    const later = batcher.submit(item('k5', 5));
    await releaseAll();
    await expect(later).resolves.toBe(50);
  });

  it('lets a waiting item go when its caller gives up, and never runs it', async () => {
    const { batcher, batches, releaseAll } = controlledBatcher();
    const running = batcher.submit(item('busy', 0));
    const caller = new AbortController();
    const abandoned = batcher.submit(item('gone', 1), caller.signal);
    const kept = batcher.submit(item('kept', 2));

    caller.abort(new Error('the caller gave up'));
    await expect(abandoned).rejects.toThrow('the caller gave up');
    expect(batcher.queued).toBe(1);
    await releaseAll();
    await expect(Promise.all([running, kept])).resolves.toEqual([0, 20]);
    expect(batches.flat().map((queued) => queued.key)).toEqual(['busy', 'kept']);
  });

  it('refuses an item whose caller already gave up', async () => {
    const { batcher, batches } = controlledBatcher();
    await expect(batcher.submit(item('a', 1), AbortSignal.abort(new Error('too late')))).rejects.toThrow('too late');
    expect(batches).toEqual([]);
  });

  it('fails the whole batch, without running its items again one by one, on a failure no item caused', async () => {
    const { batcher, batches, releaseAll } = controlledBatcher({
      fails: (items) => (items.length > 1 ? new TimedOut('statement timeout') : undefined),
    });
    const settling = Promise.allSettled([item('busy', 0), item('a', 1), item('b', 2)].map((queued) => batcher.submit(queued)));

    await releaseAll();
    const settled = await settling;
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(batches).toEqual([[item('busy', 0)], [item('a', 1), item('b', 2)]]);
  });

  it('lets an item go that waited longer than maxWaitMs, with the wait error, and keeps no timer for what was taken', async () => {
    jest.useFakeTimers();
    try {
      const { batcher, batches, releaseAll } = controlledBatcher({ maxWaitMs: 1_000 });
      const running = batcher.submit(item('busy', 0));
      const waiting = batcher.submit(item('late', 1));
      const settled = waiting.catch((error: Error) => error.message);

      jest.advanceTimersByTime(1_000);
      await expect(settled).resolves.toBe('waited too long');
      expect(batcher.queued).toBe(0);
      expect(jest.getTimerCount()).toBe(0);
      jest.useRealTimers();
      await releaseAll();
      await expect(running).resolves.toBe(0);
      expect(batches.flat().map((queued) => queued.key)).toEqual(['busy']);
    } finally {
      jest.useRealTimers();
    }
  });
});
