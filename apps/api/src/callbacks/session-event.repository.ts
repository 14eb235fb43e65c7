import { Injectable } from '@nestjs/common';
import { type CallbackEventType, type SessionStatus, TERMINAL_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { PrismaService, prepared } from '../database/prisma.service';
import { reportAssignments, reportMoves, reportTaskStatus, statusReportParameters } from '../orchestrator-gateway/status-report.sql';
import type { StatusReport } from '../orchestrator-gateway/session';
import { logSessionStatusChange } from '../orchestrator-gateway/session-status-log';
import type { TokenValidity } from './callback-token.service';
import { presentSessionEvent, type SessionEventResponse } from './session-event.presenter';

/** What a callback presents: the session in its path and the hash of its bearer token. */
export interface CallbackCredentials {
  readonly sessionId: string;
  readonly tokenHash: string;
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
 * - `unauthorized`: no such session, or the token is not (or no longer) its
 *   token; nothing stored.
 */
export type EventOutcome = 'stored' | 'duplicate' | 'foreign' | 'unauthorized';

interface RecordedRow {
  found: number;
  owned: number;
  inserted: number;
  /** The session's status before this event moved it; null when it did not. */
  moved_from: TrackedSessionStatus | null;
  task_id: string | null;
}

/**
 * The callback endpoint's storage. A callback costs one statement, whatever
 * its type: authenticating it, storing the event and applying its status are
 * one round trip to the database, run on `pg` directly rather than through
 * Prisma, whose per-query CPU cost bounded the callback rate (see
 * docs/performance.md).
 */
@Injectable()
export class SessionEventRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Whether `credentials` hold the session's token, valid by `validity`. Only for callbacks refused anyway. */
  async authenticates(credentials: CallbackCredentials, validity: TokenValidity): Promise<boolean> {
    const rows = await this.prisma.run(AUTHENTICATES, tokenValues(credentials, validity));
    return rows.length > 0;
  }

  /**
   * Stores `event` once per (session, event id) if `credentials` hold the
   * session's valid token and, if it was new, advances the session's sequence
   * and applies `report` through the state machine, in one statement (so a
   * stored status event is never left unapplied).
   */
  async record(
    credentials: CallbackCredentials,
    validity: TokenValidity,
    event: IncomingSessionEvent,
    report: StatusReport | undefined,
  ): Promise<EventOutcome> {
    const rows = await this.prisma.run<RecordedRow>(RECORD, recordValues(credentials, validity, event, report));
    const moved = rows[0];
    if (report !== undefined && moved?.moved_from && moved.task_id) {
      logSessionStatusChange({ sessionId: credentials.sessionId, taskId: moved.task_id, from: moved.moved_from, to: report.status, error: report.error });
    }
    return outcomeOf(rows);
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
 * The token rule of CallbackTokenService, applied by the database: the hash
 * matches ($2), the token has not expired by $3, and the session has not been
 * terminal ($4) since before $5. Comparing hashes need not be constant-time:
 * how much of a SHA-256 digest matches tells nothing about the token.
 */
const ACCEPTS_TOKEN = `id = $1::uuid
    AND callback_token_hash = $2
    AND callback_token_expires_at > $3::timestamptz
    AND (ended_at IS NULL OR status <> ALL($4::text[]::session_status[]) OR ended_at > $5::timestamptz)`;

function tokenValues(credentials: CallbackCredentials, validity: TokenValidity): unknown[] {
  return [credentials.sessionId, credentials.tokenHash, validity.expiresAfter.toISOString(), [...TERMINAL_STATUSES], validity.endedAfter.toISOString()];
}

const AUTHENTICATES = prepared(`SELECT 1 FROM orchestrator_sessions WHERE ${ACCEPTS_TOKEN}`);

/**
 * Locks the session row if the token is valid for it, inserts the event
 * unless its id is already stored (the unique index decides, so concurrent
 * redeliveries cannot both get in), and only for a new event advances
 * `last_sequence`, records the orchestrator's session id if the spawn answer
 * never arrived, and applies the report as `applyStatusIn` would: only to a
 * session in a status it may move from (the report's parameters from $13 on,
 * see status-report.sql.ts), with the task following. The row lock makes the checks and the update see the same
 * row version; the session is updated once, as a statement may change a row
 * only once. One fixed text, so that it is prepared once per connection.
 */
const RECORD = prepared(`
    WITH target AS (
      SELECT id, task_id, status, orchestrator_session_id FROM orchestrator_sessions
       WHERE ${ACCEPTS_TOKEN}
         FOR UPDATE
    ), owned AS (
      SELECT id, task_id, status FROM target
       WHERE orchestrator_session_id = $6
          OR (orchestrator_session_id IS NULL AND NOT EXISTS (
                SELECT 1 FROM orchestrator_sessions WHERE orchestrator_session_id = $6 AND id <> $1::uuid))
    ), inserted AS (
      INSERT INTO orchestrator_session_events (session_id, event_id, sequence, type, status, occurred_at, data)
      SELECT id, $7, $8::int, $9::session_event_type, $10::session_status, $11::timestamptz, $12::jsonb
        FROM owned
      ON CONFLICT (session_id, event_id) DO NOTHING
      RETURNING session_id
    ), applied AS (
      SELECT owned.id, owned.task_id, owned.status, ${reportMoves('owned.status', 13)} AS moves
        FROM owned JOIN inserted ON inserted.session_id = owned.id
    ), advanced AS (
      UPDATE orchestrator_sessions AS s
         SET last_sequence = GREATEST(s.last_sequence, $8::int),
             last_event_at = now(),
             orchestrator_session_id = COALESCE(s.orchestrator_session_id, $6),
             ${reportAssignments('applied.moves', 13)},
             updated_at = now()
        FROM applied
       WHERE s.id = applied.id
      RETURNING s.id
    ), task_moved AS (
      UPDATE tasks AS t SET status = ${reportTaskStatus(13)}, updated_at = now()
        FROM applied
       WHERE t.id = applied.task_id AND applied.moves
    )
    SELECT (SELECT count(*) FROM target)::int AS found,
           (SELECT count(*) FROM owned)::int AS owned,
           (SELECT count(*) FROM advanced)::int AS inserted,
           (SELECT status FROM applied WHERE moves) AS moved_from,
           (SELECT task_id FROM applied WHERE moves) AS task_id`);

function recordValues(
  credentials: CallbackCredentials,
  validity: TokenValidity,
  event: IncomingSessionEvent,
  report: StatusReport | undefined,
): unknown[] {
  return [
    ...tokenValues(credentials, validity),
    event.orchestratorSessionId,
    event.eventId,
    event.sequence,
    event.type,
    event.status,
    event.occurredAt,
    JSON.stringify(event.data),
    ...statusReportParameters(report),
  ];
}

function outcomeOf(rows: RecordedRow[]): EventOutcome {
  const row = rows[0];
  if (row === undefined || row.found === 0) return 'unauthorized';
  if (row.owned === 0) return 'foreign';
  return row.inserted === 0 ? 'duplicate' : 'stored';
}
