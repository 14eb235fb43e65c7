import { createHash } from 'node:crypto';

export class IdempotencyKeyReusedError extends Error {
  constructor() {
    super('this Idempotency-Key was already used with a different request body');
  }
}

export interface IdempotentResult<T> {
  value: T;
  /** True when the value is the one an earlier request with this key produced. */
  replayed: boolean;
}

interface Entry<T> {
  fingerprint: string;
  outcome: Promise<T>;
}

/**
 * Remembers, per Idempotency-Key, the fingerprint of the request and its outcome.
 * The outcome is stored as a promise as soon as the first request starts, so a
 * concurrent duplicate waits for it instead of starting a second session. A request
 * that fails is forgotten: every failure of a spawn (capacity, shutdown, an agent that
 * could not be started) is one a retry may get past, so a retry must run again.
 */
export class IdempotencyStore<T> {
  private readonly entries = new Map<string, Entry<T>>();

  async execute(key: string, fingerprint: string, run: () => Promise<T>): Promise<IdempotentResult<T>> {
    const existing = this.entries.get(key);
    if (existing) {
      if (existing.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
      return { value: await existing.outcome, replayed: true };
    }
    const outcome = run();
    const entry = { fingerprint, outcome };
    this.entries.set(key, entry);
    try {
      return { value: await outcome, replayed: false };
    } catch (error) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw error;
    }
  }

  /** A request with this key runs again from now on. */
  forget(key: string): void {
    this.entries.delete(key);
  }
}

/** A stable hash of a JSON value: object keys are sorted, so key order does not change it. */
export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
