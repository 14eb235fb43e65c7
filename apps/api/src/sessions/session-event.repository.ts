import { Injectable } from '@nestjs/common';
import { isTerminalStatus, type SessionEvent, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { PrismaService, prepared } from '../database/prisma.service';
import type { OrchestratorSessionEvent } from '../database/generated/prisma/client';
import { presentSessionEvent } from './session-event.presenter';

/** The events a session object carries: its last ones (docs/contract.md §4). */
export const SESSION_OBJECT_EVENTS = 200;

/**
 * Where a reader of a session's events stands, in their order: `sequence`,
 * then the order they were stored in (`id`). The API's own audit records
 * (`data.actor`) share the sequence of the callback before them, so a
 * position is more than a sequence. `rowId` null stands after every event
 * of `sequence`: where a reader who resumes from a sequence stands.
 */
export interface EventPosition {
  readonly sequence: number;
  readonly rowId: bigint | null;
}

export interface StoredEvent {
  readonly position: EventPosition;
  readonly event: SessionEvent;
  /** `event` as JSON, serialized once for every stream that sends it. */
  readonly json: string;
  /** From the API (an operator's dispatch, kill or cancel), not from the orchestrator. */
  readonly fromApi: boolean;
}

export interface EventsAfter {
  /** Up to the limit asked for, in order. */
  readonly events: StoredEvent[];
  /** The session's status and end, read with the events (undefined: no such session). */
  readonly session: { readonly status: TrackedSessionStatus; readonly endedAt: Date | null } | undefined;
}

export interface EventPage {
  readonly events: SessionEvent[];
  /** The `after_sequence` of the next page; null at the end. */
  readonly nextAfterSequence: number | null;
}

/** The `event_id`s the API gives its own audit records (session.repository.ts). */
const API_EVENT_ID_PREFIX = 'api-';

/** Reads a session's stored callback events: the newest few, a page, or what follows a position (the live streams). */
@Injectable()
export class SessionEventRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The last `count` events in order, and whether there are more before them. */
  async latest(sessionId: string, count = SESSION_OBJECT_EVENTS): Promise<{ events: SessionEvent[]; truncated: boolean }> {
    const rows = await this.prisma.orchestratorSessionEvent.findMany({
      where: { sessionId },
      orderBy: [{ sequence: 'desc' }, { id: 'desc' }],
      take: count + 1,
    });
    return { events: rows.slice(0, count).reverse().map(presentSessionEvent), truncated: rows.length > count };
  }

  /**
   * The events after `afterSequence`, at most `limit` of them, never splitting
   * the events of one sequence across pages: the next page starts after a
   * whole sequence, so it must not leave one half read.
   */
  async page(sessionId: string, afterSequence: number, limit: number): Promise<EventPage> {
    const rows = await this.prisma.orchestratorSessionEvent.findMany({
      where: { sessionId, sequence: { gt: afterSequence } },
      orderBy: [{ sequence: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
    if (rows.length <= limit) return { events: rows.map(presentSessionEvent), nextAfterSequence: null };
    const cut = rows[limit - 1].sequence;
    let page = rows.slice(0, limit);
    if (rows[limit].sequence === cut) {
      const whole = page.filter((row) => row.sequence !== cut);
      // A page of one sequence only (a limit smaller than its events) takes that whole sequence.
      page =
        whole.length > 0
          ? whole
          : await this.prisma.orchestratorSessionEvent.findMany({ where: { sessionId, sequence: cut }, orderBy: { id: 'asc' } });
    }
    return { events: page.map(presentSessionEvent), nextAfterSequence: page.at(-1)?.sequence ?? null };
  }

  /** Up to `limit` events after `position`, and the session as it was when they were read, in one statement. */
  async after(sessionId: string, position: EventPosition, limit: number): Promise<EventsAfter> {
    return (await this.afterEach([{ sessionId, position }], limit)).get(sessionId) ?? { events: [], session: undefined };
  }

  /**
   * `after` for many sessions in one statement: the live streams read every
   * session woken meanwhile together, so that a burst of events costs a few
   * reads, not one per event. Sessions that do not exist are left out.
   */
  async afterEach(reads: readonly { sessionId: string; position: EventPosition }[], limit: number): Promise<Map<string, EventsAfter>> {
    const rows = await this.prisma.queryPg<EventAfterRow>(EVENTS_AFTER, [
      reads.map((read) => read.sessionId),
      reads.map((read) => read.position.sequence),
      reads.map((read) => read.position.rowId?.toString() ?? null),
      limit,
    ]);
    const found = new Map<string, EventsAfter & { events: StoredEvent[] }>();
    for (const row of rows) {
      let read = found.get(row.session_id);
      if (read === undefined) {
        read = { events: [], session: { status: row.session_status, endedAt: row.session_ended_at } };
        found.set(row.session_id, read);
      }
      if (row.id !== null) read.events.push(storedEvent(row as EventAfterRow & { id: string }));
    }
    return found;
  }
}

/** Whether `event` ends its session's stream: the orchestrator's report of a terminal status. */
export function endsStream(stored: StoredEvent): boolean {
  const status = stored.event.status;
  return !stored.fromApi && status !== null && isTerminalStatus(status);
}

interface EventAfterRow {
  session_id: string;
  session_status: TrackedSessionStatus;
  session_ended_at: Date | null;
  id: string | null;
  event_id: string;
  sequence: number;
  type: OrchestratorSessionEvent['type'];
  status: OrchestratorSessionEvent['status'];
  occurred_at: Date;
  data: OrchestratorSessionEvent['data'];
  received_at: Date;
}

/**
 * $1 the sessions, $2 and $3 their positions (a null row id: after the whole
 * sequence), $4 the limit per session; a session without events after its
 * position gives one row without an event.
 */
const EVENTS_AFTER = prepared(`
  SELECT s.id AS session_id, s.status AS session_status, s.ended_at AS session_ended_at, e.*
    FROM unnest($1::uuid[], $2::int[], $3::bigint[]) AS r(session_id, sequence, row_id)
    JOIN orchestrator_sessions AS s ON s.id = r.session_id
    LEFT JOIN LATERAL (
      SELECT id::text AS id, event_id, sequence, type, status, occurred_at, data, received_at
        FROM orchestrator_session_events
       WHERE session_id = s.id
         AND (sequence > r.sequence OR (sequence = r.sequence AND r.row_id IS NOT NULL AND id > r.row_id))
       ORDER BY sequence, id
       LIMIT $4::int
    ) AS e ON true
   ORDER BY s.id, e.sequence, e.id::bigint`);

function storedEvent(row: EventAfterRow & { id: string }): StoredEvent {
  const event = presentSessionEvent({
    eventId: row.event_id,
    sequence: row.sequence,
    type: row.type,
    status: row.status,
    occurredAt: row.occurred_at,
    data: row.data,
    receivedAt: row.received_at,
  });
  return {
    position: { sequence: row.sequence, rowId: BigInt(row.id) },
    fromApi: row.event_id.startsWith(API_EVENT_ID_PREFIX),
    event,
    json: JSON.stringify(event),
  };
}
