import type { Logger } from '@nestjs/common';
import type { EventFields, SessionEnd, SessionStore, StoredSession } from '../store/session-store';
import type { CallbackDelivery } from './callback-delivery';

/** What the store adds to an event's fields: `event_id`, `session_id`, `sequence` and `timestamp` with their keys, about. */
const ENVELOPE_BYTES = 160;

/**
 * One session's events, in order: each is numbered and kept by the store before it
 * is handed to delivery, so a node that takes over the session later can send what
 * was not acknowledged. The terminal status is written with the store's
 * compare-and-set: the node that wins it sends the terminal event, any other (a
 * sweep that declared this node lost, a kill of a pending session) sends nothing.
 */
export class SessionEventLog {
  private chain: Promise<unknown> = Promise.resolve();
  private ended = false;
  private coming = 0;

  constructor(
    private readonly session: Pick<StoredSession, 'id' | 'callback'>,
    private readonly store: SessionStore,
    private readonly delivery: Pick<CallbackDelivery, 'enqueue'>,
    private readonly logger: Pick<Logger, 'error'>,
  ) {}

  /**
   * About the bytes of the events emitted but not handed to delivery yet: they count
   * against the session's delivery bound as if they were there already, so an agent
   * that prints faster than the store writes cannot pile up events in between.
   */
  get comingBytes(): number {
    return this.coming;
  }

  /**
   * Queues a non-terminal event; nothing is written once the session has ended.
   * `spoolPosition`: the spool record it came from, stored with it (SessionStore.appendEvent).
   */
  emit(fields: EventFields, spoolPosition?: number): void {
    const bytes = Buffer.byteLength(JSON.stringify(fields)) + ENVELOPE_BYTES;
    this.coming += bytes;
    // A failure is logged by `inOrder`; the agent's output goes on.
    this.inOrder(async () => {
      try {
        if (this.ended) return;
        const event = await this.store.appendEvent(this.session.id, fields, spoolPosition);
        this.delivery.enqueue(this.session.callback, event);
      } finally {
        this.coming -= bytes;
      }
    }).catch(() => undefined);
  }

  /**
   * Ends the session in the store (only from `from` when given) and sends its terminal
   * status event; resolves to the stored session, or undefined when it had already
   * ended (or was not in `from`), in which case nothing is sent.
   */
  end(end: SessionEnd, from?: Parameters<SessionStore['finish']>[2]): Promise<StoredSession | undefined> {
    return this.inOrder(async () => {
      const stored = await this.store.finish(this.session.id, end, from);
      if (!stored) return undefined;
      this.ended = true;
      const data = { ...(end.exitCode !== undefined && { exit_code: end.exitCode }), ...(end.error !== undefined && { error: end.error }) };
      const event = await this.store.appendEvent(this.session.id, { type: 'status', status: end.status, data });
      this.delivery.enqueue(this.session.callback, event, true);
      return stored;
    });
  }

  /** Resolves once everything emitted so far has been written and handed to delivery. */
  settled(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  /** Runs `step` once every step queued before it has finished, and logs its failure. Not named `then`: that would make the log a thenable. */
  private inOrder<T>(step: () => Promise<T>): Promise<T> {
    const next = this.chain.then(step);
    this.chain = next.catch((error: Error) =>
      this.logger.error(`session ${this.session.id}: an event could not be stored: ${error.message}`),
    );
    return next;
  }
}
