export interface StatementBatcherOptions<Item, Result> {
  /** Batches running at once; items that arrive meanwhile wait and go together in the next one. */
  readonly maxInFlight: number;
  readonly maxBatchSize: number;
  /** Items with the same key never share a batch (a statement may change a row only once). */
  readonly keyOf: (item: Item) => string;
  /** Runs one batch and gives one result per item, in the items' order. */
  readonly run: (items: readonly Item[]) => Promise<readonly Result[]>;
}

interface Pending<Item, Result> {
  readonly item: Item;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for a hot write. An item runs at once while fewer than
 * `maxInFlight` batches are running, so an idle service adds no wait; under
 * load, the items that arrive while those run go together in the next batch:
 * one round trip and one commit for all of them instead of one each, which is
 * what the callback rate was bound by (docs/performance.md). A batch that
 * fails is run again item by item, so that one bad item fails alone.
 */
export class StatementBatcher<Item, Result> {
  private queue: Pending<Item, Result>[] = [];
  private inFlight = 0;

  constructor(private readonly options: StatementBatcherOptions<Item, Result>) {}

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.inFlight += 1;
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
    return batch;
  }

  private async runBatch(batch: readonly Pending<Item, Result>[]): Promise<void> {
    let results: readonly Result[];
    try {
      results = await this.options.run(batch.map((pending) => pending.item));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} gave ${results.length} results`);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      for (const pending of batch) await this.runBatch([pending]);
      return;
    }
    batch.forEach((pending, index) => pending.resolve(results[index]!));
  }
}
