import { SESSION_STATUSES, type SessionStatus } from '@mosaic/orchestrator-contract';
import { randomBytes } from 'node:crypto';
import type { Session } from './session';

export interface SessionPage {
  sessions: Session[];
  nextCursor: string | null;
}

export class InvalidCursorError extends Error {}

/**
 * The sessions of this process, in memory, until they have been ended for the retention
 * time (`forgetEndedBefore`). Sessions are kept in creation order and a
 * cursor names the position of the last session returned, so paging newest-first is
 * unaffected by sessions created meanwhile (they sort before the first page). A cursor
 * also carries this process's instance id, so one from before a restart is refused
 * rather than silently pointing at different sessions.
 */
export class SessionRegistry {
  private readonly byId = new Map<string, Session>();
  private readonly byIdempotencyKey = new Map<string, Session>();
  /** Orders ascend with the index; an order is a session's position in creation order. */
  private readonly inOrder: { order: number; session: Session }[] = [];
  private readonly instance = randomBytes(6).toString('base64url');
  private lastOrder = 0;

  /** Makes the session visible, created now. */
  add(session: Session): void {
    session.createdAt = new Date();
    this.byId.set(session.id, session);
    if (session.idempotencyKey !== undefined) this.byIdempotencyKey.set(session.idempotencyKey, session);
    this.inOrder.push({ order: ++this.lastOrder, session });
  }

  countByStatus(): Record<SessionStatus, number> {
    const counts = Object.fromEntries(SESSION_STATUSES.map((status) => [status, 0])) as Record<SessionStatus, number>;
    for (const session of this.byId.values()) counts[session.status] += 1;
    return counts;
  }

  get(id: string): Session | undefined {
    return this.byId.get(id);
  }

  /** The session a spawn with this Idempotency-Key started. */
  withIdempotencyKey(key: string): Session | undefined {
    return this.byIdempotencyKey.get(key);
  }

  /**
   * Forgets every session that ended before `cutoff` and returns them. Orders are never
   * reused, so a cursor issued before still continues after the session it named.
   */
  forgetEndedBefore(cutoff: Date): Session[] {
    const forgotten: Session[] = [];
    let kept = 0;
    for (const entry of this.inOrder) {
      const { endedAt } = entry.session;
      if (endedAt !== undefined && endedAt < cutoff) {
        forgotten.push(entry.session);
        this.byId.delete(entry.session.id);
        if (entry.session.idempotencyKey !== undefined) this.byIdempotencyKey.delete(entry.session.idempotencyKey);
      } else {
        this.inOrder[kept++] = entry;
      }
    }
    this.inOrder.length = kept;
    return forgotten;
  }

  /** Newest first; `status` filters, `cursor` continues after the page that returned it. */
  list(options: { status?: SessionStatus; limit: number; cursor?: string }): SessionPage {
    let index = this.inOrder.length - 1;
    if (options.cursor !== undefined) index = this.indexBefore(this.decodeCursor(options.cursor));
    const page: { order: number; session: Session }[] = [];
    let hasMore = false;
    for (; index >= 0; index--) {
      const entry = this.inOrder[index];
      if (options.status !== undefined && entry.session.status !== options.status) continue;
      if (page.length === options.limit) {
        hasMore = true;
        break;
      }
      page.push(entry);
    }
    const last = page.at(-1);
    return { sessions: page.map((entry) => entry.session), nextCursor: hasMore && last ? this.encodeCursor(last.order) : null };
  }

  /** Index of the newest session created before `order` (orders ascend with index). */
  private indexBefore(order: number): number {
    let low = 0;
    let high = this.inOrder.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.inOrder[middle].order < order) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }

  private encodeCursor(order: number): string {
    return Buffer.from(`${this.instance}:${order}`).toString('base64url');
  }

  private decodeCursor(cursor: string): number {
    const match = /^([A-Za-z0-9_-]+):(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!match || match[1] !== this.instance) throw new InvalidCursorError('cursor: not a cursor this service issued, or one from before a restart');
    return Number(match[2]);
  }
}
