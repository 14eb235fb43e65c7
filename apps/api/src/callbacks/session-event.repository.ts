import { Injectable } from '@nestjs/common';
import type { CallbackEventType, SessionStatus, TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { PrismaService } from '../database/prisma.service';
import type { Prisma } from '../database/generated/prisma/client';
import { applyStatusIn } from '../orchestrator-gateway/session.repository';
import type { StatusReport } from '../orchestrator-gateway/session';
import type { TokenHolder } from './callback-token.service';
import { presentSessionEvent, type SessionEventResponse } from './session-event.presenter';

/** What the callback endpoint needs to know of a session before it reads the body. */
export interface CallbackTarget extends TokenHolder {
  readonly sessionId: string;
  readonly orchestratorSessionId: string | null;
}

/** A callback event as the orchestrator sent it, ready to be stored. */
export interface IncomingSessionEvent {
  readonly eventId: string;
  readonly orchestratorSessionId: string;
  readonly sequence: number;
  readonly type: CallbackEventType;
  readonly status: SessionStatus | null;
  readonly occurredAt: string;
  readonly data: Record<string, unknown>;
}

/**
 * - `stored`: new, and applied to the session;
 * - `duplicate`: an event with this id was stored before, nothing changed;
 * - `foreign`: the event names an orchestrator session other than this
 *   session's (or one another session already has), nothing stored;
 * - `gone`: the session no longer exists.
 */
export type EventOutcome = 'stored' | 'duplicate' | 'foreign' | 'gone';

interface RecordedRow {
  found: number;
  owned: number;
  inserted: number;
}

/**
 * The callback endpoint's storage: one read to authenticate, then one statement
 * (or, when the event carries a status, one transaction) to ingest.
 */
@Injectable()
export class SessionEventRepository {
  constructor(private readonly prisma: PrismaService) {}

  async findCallbackTarget(sessionId: string): Promise<CallbackTarget | undefined> {
    const row = await this.prisma.orchestratorSession.findUnique({
      where: { id: sessionId },
      select: {
        id: true,
        orchestratorSessionId: true,
        status: true,
        endedAt: true,
        callbackTokenHash: true,
        callbackTokenExpiresAt: true,
      },
    });
    if (row === null) return undefined;
    return {
      sessionId: row.id,
      orchestratorSessionId: row.orchestratorSessionId,
      status: row.status satisfies TrackedSessionStatus,
      endedAt: row.endedAt,
      callbackTokenHash: row.callbackTokenHash,
      callbackTokenExpiresAt: row.callbackTokenExpiresAt,
    };
  }

  /**
   * Stores `event` once per (session, event id) and, if it was new, advances
   * the session's sequence and applies `report` through the state machine.
   * Without a report a single statement suffices; with one, both happen in one
   * transaction so a stored status event is never left unapplied.
   */
  async record(sessionId: string, event: IncomingSessionEvent, report: StatusReport | undefined): Promise<EventOutcome> {
    if (report === undefined) return outcomeOf(await insertEventIn(this.prisma, sessionId, event));
    return this.prisma.$transaction(async (tx) => {
      const outcome = outcomeOf(await insertEventIn(tx, sessionId, event));
      if (outcome === 'stored') await applyStatusIn(tx, sessionId, report);
      return outcome;
    });
  }

  /** The session's events in `sequence` order, then in the order they arrived, in their wire shape. */
  async listEvents(sessionId: string): Promise<SessionEventResponse[]> {
    const rows = await this.prisma.orchestratorSessionEvent.findMany({
      where: { sessionId },
      orderBy: [{ sequence: 'asc' }, { id: 'asc' }],
    });
    return rows.map(presentSessionEvent);
  }
}

/**
 * One statement: lock the session row, insert the event unless its id is
 * already stored (the unique index decides, so concurrent redeliveries cannot
 * both get in), and only for a new event advance `last_sequence` and record the
 * orchestrator's session id if the spawn answer never arrived. The row lock
 * makes the orchestrator-id check and the update see the same row version.
 */
function insertEventIn(db: Prisma.TransactionClient, sessionId: string, event: IncomingSessionEvent): Promise<RecordedRow[]> {
  return db.$queryRaw<RecordedRow[]>`
    WITH target AS (
      SELECT id, orchestrator_session_id FROM orchestrator_sessions WHERE id = ${sessionId}::uuid FOR UPDATE
    ), owned AS (
      SELECT id FROM target
       WHERE orchestrator_session_id = ${event.orchestratorSessionId}
          OR (orchestrator_session_id IS NULL AND NOT EXISTS (
                SELECT 1 FROM orchestrator_sessions
                 WHERE orchestrator_session_id = ${event.orchestratorSessionId} AND id <> ${sessionId}::uuid))
    ), inserted AS (
      INSERT INTO orchestrator_session_events (session_id, event_id, sequence, type, status, occurred_at, data)
      SELECT id, ${event.eventId}, ${event.sequence}::int, ${event.type}::session_event_type,
             ${event.status}::session_status, ${event.occurredAt}::timestamptz, ${JSON.stringify(event.data)}::jsonb
        FROM owned
      ON CONFLICT (session_id, event_id) DO NOTHING
      RETURNING session_id
    ), advanced AS (
      UPDATE orchestrator_sessions AS s
         SET last_sequence = GREATEST(s.last_sequence, ${event.sequence}::int),
             last_event_at = now(),
             orchestrator_session_id = COALESCE(s.orchestrator_session_id, ${event.orchestratorSessionId}),
             updated_at = now()
        FROM inserted
       WHERE s.id = inserted.session_id
      RETURNING s.id
    )
    SELECT (SELECT count(*) FROM target)::int AS found,
           (SELECT count(*) FROM owned)::int AS owned,
           (SELECT count(*) FROM advanced)::int AS inserted`;
}

function outcomeOf(rows: RecordedRow[]): EventOutcome {
  const row = rows[0];
  if (row === undefined || row.found === 0) return 'gone';
  if (row.owned === 0) return 'foreign';
  return row.inserted === 0 ? 'duplicate' : 'stored';
}
