export interface StatementBatcherOptions<Item, Result> {
  /** Batches running at once; items that arrive meanwhile wait and go together in the next one. */
  readonly maxInFlight: number;
  readonly maxBatchSize: number;
  /** Items with the same key never share a batch (a statement may change a row only once). */
  readonly keyOf: (item: Item) => string;
  /** Runs one batch and gives one result per item, in the items' order. */
  readonly run: (items: readonly Item[]) => Promise<readonly Result[]>;
  /** Items that may wait at once; one more is refused with `overloaded()` at once, so memory stays bounded. */
  readonly maxQueued: number;
  readonly overloaded: () => Error;
  /** Longest an item waits for a batch; past it, it leaves the queue with `waitedTooLong()`. A running batch is not interrupted. */
  readonly maxWaitMs: number;
  readonly waitedTooLong: () => Error;
  /**
   * Whether a batch that failed with `error` is run again item by item, so
   * that one bad item fails alone. Only for failures an item can cause: a
   * statement that timed out behind a lock would only time out again, once
   * per item.
   */
  readonly retryAlone: (error: unknown) => boolean;
}

interface Pending<Item, Result> {
  readonly item: Item;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: unknown) => void;
  /** Undoes what makes it leave the queue early (its wait timer, its caller's signal) once it is taken or gone. */
  release: () => void;
}

/**
 * Group commit for a hot write. An item runs at once while fewer than
 * `maxInFlight` batches are running, so an idle service adds no wait; under
 * load, the items that arrive while those run go together in the next batch:
 * one round trip and one commit for all of them instead of one each, which is
 * what the callback rate was bound by (docs/performance.md). The queue is
 * bounded, and an item whose `signal` aborts while it waits (its caller gave
 * up) leaves it at once; a running batch is not interrupted.
 */
export class StatementBatcher<Item, Result> {
  private queue: Pending<Item, Result>[] = [];
  private inFlight = 0;

  constructor(private readonly options: StatementBatcherOptions<Item, Result>) {}

  /** Items waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /** `callerGone` aborts when whoever waits for the result stops waiting: a queued item then leaves the queue. */
  submit(item: Item, callerGone?: AbortSignal): Promise<Result> {
    if (callerGone?.aborted) return Promise.reject(callerGone.reason);
    if (this.queue.length >= this.options.maxQueued) return Promise.reject(this.options.overloaded());
    return new Promise<Result>((resolve, reject) => {
      const pending: Pending<Item, Result> = { item, resolve, reject, release: () => undefined };
      // Plain listeners and a timer released the moment the item is taken: at thousands of items a second, signals
      // combined with AbortSignal.any and AbortSignal.timeout stayed alive for their whole timeout and filled the heap.
      const gone = () => this.withdraw(pending, callerGone?.reason);
      const timer = setTimeout(() => this.withdraw(pending, this.options.waitedTooLong()), this.options.maxWaitMs);
      callerGone?.addEventListener('abort', gone, { once: true });
      pending.release = () => {
        clearTimeout(timer);
        callerGone?.removeEventListener('abort', gone);
      };
      this.queue.push(pending);
      this.pump();
    });
  }

  private withdraw(pending: Pending<Item, Result>, reason: unknown): void {
    const index = this.queue.indexOf(pending);
    if (index < 0) return;
    this.queue.splice(index, 1);
    pending.release();
    pending.reject(reason);
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.inFlight += 1;
      // Batches run side by side; runBatch settles each caller's promise itself.
      void this.runBatch(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  /** The oldest items with distinct keys, up to the batch size; the rest keep their order in the queue. */
  private takeBatch(): Pending<Item, Result>[] {
    const keys = new Set<string>();
    const batch: Pending<Item, Result>[] = [];
    const waiting: Pending<Item, Result>[] = [];
    let index = 0;
    for (; index < this.queue.length && batch.length < this.options.maxBatchSize; index += 1) {
      const pending = this.queue[index]!;
      const key = this.options.keyOf(pending.item);
      if (keys.has(key)) {
        waiting.push(pending);
      } else {
        keys.add(key);
        batch.push(pending);
      }
    }
    this.queue = index === this.queue.length ? waiting : waiting.concat(this.queue.slice(index));
    for (const pending of batch) pending.release();
    return batch;
  }

  private async runBatch(batch: readonly Pending<Item, Result>[]): Promise<void> {
    let results: readonly Result[];
    try {
      results = await this.options.run(batch.map((pending) => pending.item));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} gave ${results.length} results`);
    } catch (error) {
      if (batch.length === 1 || !this.options.retryAlone(error)) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      for (const pending of batch) await this.runBatch([pending]);
      return;
    }
    batch.forEach((pending, index) => pending.resolve(results[index]!));
  }
}
