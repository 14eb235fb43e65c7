import { Injectable, Logger } from '@nestjs/common';
import { isTerminalStatus } from '@mosaic/orchestrator-contract';
import {
  type EventPosition,
  type EventsAfter,
  SessionEventRepository,
  type StoredEvent,
  endsStream,
} from '../sessions/session-event.repository';
import type { NotificationListener } from './session-notifications';
import type { SseStream } from './sse-stream';

/** Events read per session and statement, catching up or following. */
const READ_PAGE = 500;

/** Sessions whose feeds one statement reads. */
const READ_BATCH = 200;

/**
 * How long a stream waits, once its session is terminal, for the
 * orchestrator's own terminal report: a kill or cancel answered through the
 * API makes the session terminal (and writes its audit event) a moment before
 * the orchestrator's callback with the agent's result arrives. A session
 * that ended without one (lost, never spawned) ends its streams after this.
 */
export const TERMINAL_REPORT_WAIT_MS = 5_000;

const RETRY_AFTER_FAILURE_MS = 1_000;

interface Follower {
  readonly stream: SseStream;
  position: EventPosition;
  /** Caught up: the feed's reads reach it. */
  live: boolean;
}

/** One session's followers on this instance, served by one read of its new events once they are live. */
interface Feed {
  readonly sessionId: string;
  readonly followers: Set<Follower>;
  /** The newest event the feed has read; undefined until a follower is live. */
  position: EventPosition | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Counts the feed's wake-ups, so that a catch-up can tell one came while it was reading. */
  wakeups: number;
}

/**
 * `GET /orchestrator/sessions/:id/events/stream`: every stored event of a
 * session from a position on, then each new one as it is stored, whichever
 * API instance stored it. A follower first catches up by itself, reading
 * page by page at its own pace; once it has read all that is stored it joins
 * its session's feed, which reads each batch of new events once (woken by
 * NOTIFY) and sends it to all its followers. The feeds woken while a read
 * runs are read together by the next, in one statement: under a burst the
 * reads stay few, however many sessions stream. The rows stay the truth: a
 * wake-up only says where to look, so a missed one costs a delay, never an
 * event.
 */
@Injectable()
export class SessionEventStreams implements NotificationListener {
  private readonly logger = new Logger(SessionEventStreams.name);
  private readonly feeds = new Map<string, Feed>();
  private readonly woken = new Set<Feed>();
  private reading = false;

  constructor(private readonly events: SessionEventRepository) {}

  /** Streams the session's events after `from` to `stream` until the session's end, the client's or the API's. */
  async follow(sessionId: string, from: EventPosition, stream: SseStream): Promise<void> {
    let feed = this.feeds.get(sessionId);
    if (feed === undefined) {
      feed = { sessionId, followers: new Set(), position: undefined, timer: undefined, wakeups: 0 };
      this.feeds.set(sessionId, feed);
    }
    const follower: Follower = { stream, position: from, live: false };
    feed.followers.add(follower);
    // The follower leaves its feed whenever its client goes.
    void stream.done.then(() => this.leave(sessionId, follower));
    try {
      await this.catchUp(feed, follower);
    } catch (error) {
      this.logger.warn(`a stream of session ${sessionId} failed to catch up: ${(error as Error).message}`);
      stream.end();
    }
  }

  /** Ends every stream (the API is shutting down): their clients resume elsewhere by `Last-Event-ID`. */
  endAll(): void {
    for (const feed of this.feeds.values()) for (const follower of feed.followers) follower.stream.end();
  }

  sessionEvents(sessionId: string): void {
    const feed = this.feeds.get(sessionId);
    if (feed !== undefined) this.read(feed);
  }

  sessionChanged(sessionId: string): void {
    // A session can end without an event (a reconciliation verdict): its streams must hear of it too.
    this.sessionEvents(sessionId);
  }

  resync(): void {
    for (const feed of this.feeds.values()) this.read(feed);
  }

  private async catchUp(feed: Feed, follower: Follower): Promise<void> {
    for (;;) {
      if (!follower.stream.open) return;
      const wakeupsBefore = feed.wakeups;
      const read = await this.events.after(feed.sessionId, follower.position, READ_PAGE);
      if (this.deliver(follower, read.events)) return;
      if (read.events.length === READ_PAGE) {
        await follower.stream.drained();
        continue;
      }
      // The feed read past this follower's last read while it was reading: read what the feed sent the others.
      if (feed.position !== undefined && compare(feed.position, follower.position) > 0) continue;
      if (this.finishedFor(feed, read)) {
        follower.stream.end();
        return;
      }
      follower.live = true;
      if (feed.position === undefined) {
        feed.position = follower.position;
        // A wake-up that came while it read found no live follower and was dropped; its event may have been stored
        // after the read's snapshot, and nothing else would fetch it before the session's next event.
        if (feed.wakeups !== wakeupsBefore) this.read(feed);
      }
      // Its own read saw events the feed has not read yet: the feed reads them for its other followers (this one skips
      // what it has). Moving the feed to this follower's position instead would skip them for the others, whose
      // wake-up may already have been read.
      else if (compare(follower.position, feed.position) > 0) this.read(feed);
      return;
    }
  }

  private read(feed: Feed): void {
    feed.wakeups += 1;
    this.woken.add(feed);
    if (this.reading) return;
    this.reading = true;
    // One read loop at a time, in the background; readWoken logs its own failures.
    void this.readWoken().finally(() => (this.reading = false));
  }

  private async readWoken(): Promise<void> {
    while (this.woken.size > 0) {
      const batch: { feed: Feed; position: EventPosition }[] = [];
      for (const feed of this.woken) {
        this.woken.delete(feed);
        if (feed.position !== undefined && feed.followers.size > 0) batch.push({ feed, position: feed.position });
        if (batch.length === READ_BATCH) break;
      }
      if (batch.length === 0) return;
      let reads: Map<string, EventsAfter>;
      try {
        reads = await this.events.afterEach(
          batch.map(({ feed, position }) => ({ sessionId: feed.sessionId, position })),
          READ_PAGE,
        );
      } catch (error) {
        this.logger.warn(`reading the events of ${batch.length} streamed sessions failed: ${(error as Error).message}; retrying`);
        for (const { feed } of batch) this.wakeLater(feed, RETRY_AFTER_FAILURE_MS);
        continue;
      }
      for (const { feed } of batch) this.fanOut(feed, reads.get(feed.sessionId) ?? { events: [], session: undefined });
    }
  }

  private fanOut(feed: Feed, read: EventsAfter): void {
    const last = read.events.at(-1);
    if (last !== undefined && feed.position !== undefined && compare(last.position, feed.position) > 0) feed.position = last.position;
    for (const follower of feed.followers) if (follower.live) this.deliver(follower, read.events);
    if (read.events.length === READ_PAGE) this.woken.add(feed);
    else if (this.finishedFor(feed, read)) for (const follower of feed.followers) if (follower.live) follower.stream.end();
  }

  /** Sends the events `follower` has not had; true when its stream is over (its session's end was sent, or it was cut off). */
  private deliver(follower: Follower, events: readonly StoredEvent[]): boolean {
    for (const stored of events) {
      if (compare(stored.position, follower.position) <= 0) continue;
      const sent = follower.stream.send({ id: String(stored.event.sequence), event: stored.event.type, data: stored.json });
      if (!sent) return true;
      follower.position = stored.position;
      if (endsStream(stored)) {
        follower.stream.end();
        return true;
      }
    }
    return false;
  }

  /**
   * Whether streams that have sent everything stored should end: the session
   * is terminal and its orchestrator's report is not coming (see
   * TERMINAL_REPORT_WAIT_MS). Within the wait, a read is due when it is over.
   */
  private finishedFor(feed: Feed, read: EventsAfter): boolean {
    const session = read.session;
    if (session === undefined) return true;
    if (!isTerminalStatus(session.status)) return false;
    const waitLeft = (session.endedAt?.getTime() ?? 0) + TERMINAL_REPORT_WAIT_MS - Date.now();
    if (waitLeft <= 0) return true;
    this.wakeLater(feed, waitLeft);
    return false;
  }

  private wakeLater(feed: Feed, delayMs: number): void {
    if (feed.timer !== undefined) return;
    feed.timer = setTimeout(() => {
      feed.timer = undefined;
      this.read(feed);
    }, delayMs);
    feed.timer.unref();
  }

  private leave(sessionId: string, follower: Follower): void {
    const feed = this.feeds.get(sessionId);
    if (feed === undefined) return;
    feed.followers.delete(follower);
    if (feed.followers.size > 0) return;
    clearTimeout(feed.timer);
    this.feeds.delete(sessionId);
  }
}

/** Orders positions; a null row id stands after every event of its sequence. */
export function compare(a: EventPosition, b: EventPosition): number {
  if (a.sequence !== b.sequence) return a.sequence - b.sequence;
  if (a.rowId === b.rowId) return 0;
  if (a.rowId === null) return 1;
  if (b.rowId === null) return -1;
  return a.rowId < b.rowId ? -1 : 1;
}
