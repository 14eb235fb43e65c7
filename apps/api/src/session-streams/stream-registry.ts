import { Injectable } from '@nestjs/common';
import type { Operator } from '../auth/operator';
import { OperatorKeyRepository } from '../auth/operator-key.repository';
import { ApiConfig } from '../config/api-config';
import { RetryLaterError } from '../http/retry-later.error';
import { ApiMetrics } from '../metrics/api-metrics';
import type { KeyRevocationListener } from './session-notifications';
import type { SseStream } from './sse-stream';

/** Who asks for a stream: the operator (by key) and the client's address. */
export interface StreamHolder {
  readonly operator: Operator;
  readonly address: string;
}

/** A place kept for one stream: it holds the stream until the stream ends, or is given back if none opens. */
export interface StreamSlot {
  /** Holds `stream` until it ends, ending it at its maximum life or when its key is revoked. */
  hold(stream: SseStream): void;
  /** Gives the place back: the request failed before its stream opened. */
  release(): void;
}

/** What a refused client is told to wait (`Retry-After`): streams free up as their clients go, or at their maximum life. */
export const STREAM_RETRY_AFTER_SECONDS = 5;

/** Counts holders of the administrator's token together: key ids are UUIDs, so this never meets one. */
const ADMIN_TOKEN = 'admin';

/**
 * The one guard of every live stream on this process: caps per operator key,
 * per client address and in all (an idle stream costs memory, and enough of
 * them took the whole API down), a maximum life after which the client
 * resumes, and the end of a key's streams when the key is revoked.
 */
@Injectable()
export class StreamRegistry implements KeyRevocationListener {
  private total = 0;
  private readonly perKey = new Map<string, number>();
  private readonly perAddress = new Map<string, number>();
  /** The open streams of each operator key, to end them when it is revoked. */
  private readonly byKey = new Map<string, Set<SseStream>>();
  /**
   * Keys this process heard were revoked. A request authenticated just before
   * a revoke may open its stream just after the notification: it ends at once.
   * As few as the keys an administrator ever revoked.
   */
  private readonly revoked = new Set<string>();

  constructor(
    private readonly config: ApiConfig,
    private readonly metrics: ApiMetrics,
    private readonly keys: OperatorKeyRepository,
  ) {}

  /** Keeps a place for one stream of `holder`; past a cap, refuses it: `429 too_many_streams` for a key's or an address's, `503 at_capacity` for the process's. */
  reserve({ operator, address }: StreamHolder): StreamSlot {
    const limits = this.config.streamLimits;
    const key = operator.keyId ?? ADMIN_TOKEN;
    if ((this.perKey.get(key) ?? 0) >= limits.perKey) {
      this.metrics.streamRefused('per_key');
      throw new RetryLaterError(
        'too_many_streams',
        `this operator key holds ${limits.perKey} open streams, the most it may; close one first`,
        STREAM_RETRY_AFTER_SECONDS,
      );
    }
    if ((this.perAddress.get(address) ?? 0) >= limits.perAddress) {
      this.metrics.streamRefused('per_address');
      throw new RetryLaterError(
        'too_many_streams',
        `this client address holds ${limits.perAddress} open streams, the most it may; close one first`,
        STREAM_RETRY_AFTER_SECONDS,
      );
    }
    if (this.total >= limits.total) {
      this.metrics.streamRefused('total');
      throw new RetryLaterError(
        'at_capacity',
        `the API holds ${limits.total} open streams, the most it may; retry later`,
        STREAM_RETRY_AFTER_SECONDS,
      );
    }
    this.total += 1;
    bump(this.perKey, key, 1);
    bump(this.perAddress, address, 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.total -= 1;
      bump(this.perKey, key, -1);
      bump(this.perAddress, address, -1);
    };
    return {
      hold: (stream) => {
        const expiry = setTimeout(() => stream.end('expired'), limits.maxLifeMs);
        expiry.unref();
        const keyId = operator.keyId;
        if (keyId !== null) {
          const streams = this.byKey.get(keyId) ?? new Set<SseStream>();
          streams.add(stream);
          this.byKey.set(keyId, streams);
          if (this.revoked.has(keyId)) stream.end('revoked');
        }
        // The place is given back whenever the stream ends, however it ends.
        void stream.done.then(() => {
          clearTimeout(expiry);
          if (keyId !== null) this.forget(keyId, stream);
          release();
        });
      },
      release,
    };
  }

  keyRevoked(keyId: string): void {
    this.revoked.add(keyId);
    for (const stream of this.byKey.get(keyId) ?? []) stream.end('revoked');
  }

  /** Revocations may have been missed (the wake-up connection was lost): asks the database about every key that holds streams. */
  async resync(): Promise<void> {
    if (this.byKey.size === 0) return;
    for (const keyId of await this.keys.revokedAmong([...this.byKey.keys()])) this.keyRevoked(keyId);
  }

  private forget(keyId: string, stream: SseStream): void {
    const streams = this.byKey.get(keyId);
    streams?.delete(stream);
    if (streams?.size === 0) this.byKey.delete(keyId);
  }
}

function bump(counts: Map<string, number>, name: string, by: number): void {
  const count = (counts.get(name) ?? 0) + by;
  if (count === 0) counts.delete(name);
  else counts.set(name, count);
}
