import { Injectable } from '@nestjs/common';
import { type CallbackEventType, type SessionStatus, TERMINAL_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { PrismaService, prepared } from '../database/prisma.service';
import { StatementBatcher } from '../database/statement-batcher';
import {
  REPORT_COLUMNS,
  reportAssignments,
  reportColumnSql,
  reportMoves,
  reportTaskStatus,
  statusReportColumns,
} from '../orchestrator-gateway/status-report.sql';
import type { StatusReport } from '../orchestrator-gateway/session';
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

/** One callback to store: who presents it, the token rule it must pass, its event and the status it reports. */
export interface CallbackRecord {
  readonly credentials: CallbackCredentials;
  readonly validity: TokenValidity;
  readonly event: IncomingSessionEvent;
  readonly report: StatusReport | undefined;
}

/** What storing a callback did; `moved` says from where, when its report moved the session (and its task). */
export interface RecordedEvent {
  readonly outcome: EventOutcome;
  readonly moved?: { readonly from: TrackedSessionStatus; readonly taskId: string };
}

/** One per callback of a batch, in the batch's order. */
interface RecordedRow {
  found: boolean;
  owned: boolean;
  inserted: boolean;
  moved_from: TrackedSessionStatus | null;
  task_id: string | null;
}

/**
 * Recording statements running at once: one running while the next batch
 * gathers. More would run more, smaller statements at a few dozen callbacks
 * in flight; each statement costs a commit and the API's per-query work, so
 * at 10 connections 4 statements in flight stored about 15 % fewer callbacks
 * per second than 2 (docs/performance.md).
 */
export const MAX_RECORDING_BATCHES = 2;
const MAX_BATCH_SIZE = 200;

/**
 * The callback endpoint's storage. Storing a callback is one statement,
 * whatever its type: authenticating it, storing the event and applying its
 * status together. Callbacks that arrive while others are being stored are
 * stored together by the next statement (group commit, see
 * StatementBatcher), run on `pg` directly rather than through Prisma, whose
 * per-query CPU cost bounded the callback rate (see docs/performance.md).
 */
@Injectable()
export class SessionEventRepository {
  private readonly recorder = new StatementBatcher<CallbackRecord, RecordedEvent>({
    maxInFlight: MAX_RECORDING_BATCHES,
    maxBatchSize: MAX_BATCH_SIZE,
    keyOf: (record) => record.credentials.sessionId,
    run: (records) => this.recordBatch(records),
  });

  constructor(private readonly prisma: PrismaService) {}

  /** Whether `credentials` hold the session's token, valid by `validity`. Only for callbacks refused anyway. */
  async authenticates(credentials: CallbackCredentials, validity: TokenValidity): Promise<boolean> {
    const rows = await this.prisma.run(AUTHENTICATES, [
      credentials.sessionId,
      credentials.tokenHash,
      validity.expiresAfter.toISOString(),
      validity.endedAfter.toISOString(),
      TERMINAL_STATUSES,
    ]);
    return rows.length > 0;
  }

  /**
   * Stores the event once per (session, event id) if the credentials hold the
   * session's valid token and, if it was new, advances the session's sequence
   * and applies the report through the state machine, in one statement (so a
   * stored status event is never left unapplied).
   */
  record(record: CallbackRecord): Promise<RecordedEvent> {
    return this.recorder.submit(record);
  }

  private async recordBatch(records: readonly CallbackRecord[]): Promise<RecordedEvent[]> {
    const rows = await this.prisma.run<RecordedRow>(RECORD, recordColumns(records));
    return rows.map(recordedEvent);
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
 * The token rule of CallbackTokenService, applied by the database to the
 * session `s`: the hash matches, the token has not expired by `expiresAfter`,
 * and the session has not been terminal since before `endedAfter`. Comparing
 * hashes need not be constant-time: how much of a SHA-256 digest matches
 * tells nothing about the token.
 */
function acceptsToken(token: { sessionId: string; tokenHash: string; expiresAfter: string; endedAfter: string; terminalStatuses: string }): string {
  return `s.id = ${token.sessionId}
    AND s.callback_token_hash = ${token.tokenHash}
    AND s.callback_token_expires_at > ${token.expiresAfter}
    AND (s.ended_at IS NULL OR s.status <> ALL(${token.terminalStatuses}::text[]::session_status[]) OR s.ended_at > ${token.endedAfter})`;
}

const AUTHENTICATES = prepared(`SELECT 1 FROM orchestrator_sessions AS s
  WHERE ${acceptsToken({ sessionId: '$1::uuid', tokenHash: '$2', expiresAfter: '$3::timestamptz', endedAfter: '$4::timestamptz', terminalStatuses: '$5' })}`);

/** The columns of RECORD's input rows, one array parameter each from $2 on, and their SQL types. */
const EVENT_COLUMNS = [
  ['session_id', 'uuid'],
  ['token_hash', 'text'],
  ['expires_after', 'timestamptz'],
  ['ended_after', 'timestamptz'],
  ['orchestrator_session_id', 'text'],
  ['event_id', 'text'],
  ['sequence', 'int'],
  ['type', 'session_event_type'],
  ['status', 'session_status'],
  ['occurred_at', 'timestamptz'],
  ['data', 'jsonb'],
  ...REPORT_COLUMNS,
] as const;

const INPUT_ROWS = `unnest(${EVENT_COLUMNS.map(([, type], index) => `$${index + 2}::${type}[]`).join(', ')})
      WITH ORDINALITY AS i(${EVENT_COLUMNS.map(([column]) => column).join(', ')}, n)`;

const REPORT = reportColumnSql('i');

/**
 * Stores a batch of events, at most one per session, each as if alone: for
 * each, locks its session row if the token is valid for it, inserts the event
 * unless its id is already stored (the unique index decides, so concurrent
 * redeliveries cannot both get in), and only for a new event advances
 * `last_sequence`, records the orchestrator's session id if the spawn answer
 * never arrived, and applies its report as `applyStatusIn` would: only to a
 * session in a status it may move from (status-report.sql.ts), with the task
 * following. The row lock makes the checks and the update see the same row
 * version; the rows are locked in id order, so that two batches cannot wait
 * on each other. Answers one row per event, in the order given. One fixed
 * text, so that it is prepared once per connection.
 */
const RECORD = prepared(`
    WITH input AS (
      SELECT * FROM ${INPUT_ROWS}
    ), target AS (
      SELECT i.n, s.id, s.task_id, s.status, s.orchestrator_session_id
        FROM (SELECT * FROM input ORDER BY session_id) AS i
        CROSS JOIN LATERAL (
          SELECT s.id, s.task_id, s.status, s.orchestrator_session_id FROM orchestrator_sessions AS s
           WHERE ${acceptsToken({ sessionId: 'i.session_id', tokenHash: 'i.token_hash', expiresAfter: 'i.expires_after', endedAfter: 'i.ended_after', terminalStatuses: '$1' })}
             FOR UPDATE
        ) AS s
    ), owned AS (
      SELECT t.n, t.id, t.task_id, t.status
        FROM target AS t JOIN input AS i ON i.n = t.n
       WHERE t.orchestrator_session_id = i.orchestrator_session_id
          OR (t.orchestrator_session_id IS NULL AND NOT EXISTS (
                SELECT 1 FROM orchestrator_sessions AS o WHERE o.orchestrator_session_id = i.orchestrator_session_id AND o.id <> t.id))
    ), inserted AS (
      INSERT INTO orchestrator_session_events (session_id, event_id, sequence, type, status, occurred_at, data)
      SELECT o.id, i.event_id, i.sequence, i.type, i.status, i.occurred_at, i.data
        FROM owned AS o JOIN input AS i ON i.n = o.n
      ON CONFLICT (session_id, event_id) DO NOTHING
      RETURNING session_id
    ), applied AS (
      SELECT o.n, o.id, o.task_id, o.status, ${reportMoves('o.status', REPORT)} AS moves
        FROM owned AS o JOIN input AS i ON i.n = o.n JOIN inserted ON inserted.session_id = o.id
    ), advanced AS (
      UPDATE orchestrator_sessions AS s
         SET last_sequence = GREATEST(s.last_sequence, i.sequence),
             last_event_at = now(),
             orchestrator_session_id = COALESCE(s.orchestrator_session_id, i.orchestrator_session_id),
             ${reportAssignments('a.moves', REPORT)},
             updated_at = now()
        FROM applied AS a JOIN input AS i ON i.n = a.n
       WHERE s.id = a.id
    ), task_moved AS (
      UPDATE tasks AS t SET status = ${reportTaskStatus(REPORT)}, updated_at = now()
        FROM applied AS a JOIN input AS i ON i.n = a.n
       WHERE t.id = a.task_id AND a.moves
    )
    SELECT t.n IS NOT NULL AS found,
           o.n IS NOT NULL AS owned,
           a.n IS NOT NULL AS inserted,
           CASE WHEN a.moves THEN a.status END AS moved_from,
           CASE WHEN a.moves THEN a.task_id END AS task_id
      FROM input AS i
      LEFT JOIN target AS t ON t.n = i.n
      LEFT JOIN owned AS o ON o.n = i.n
      LEFT JOIN applied AS a ON a.n = i.n
     ORDER BY i.n`);

function recordColumns(records: readonly CallbackRecord[]): unknown[] {
  const column = (value: (record: CallbackRecord) => unknown) => records.map(value);
  return [
    TERMINAL_STATUSES,
    column((record) => record.credentials.sessionId),
    column((record) => record.credentials.tokenHash),
    column((record) => record.validity.expiresAfter.toISOString()),
    column((record) => record.validity.endedAfter.toISOString()),
    column((record) => record.event.orchestratorSessionId),
    column((record) => record.event.eventId),
    column((record) => record.event.sequence),
    column((record) => record.event.type),
    column((record) => record.event.status),
    column((record) => record.event.occurredAt),
    column((record) => JSON.stringify(record.event.data)),
    ...statusReportColumns(records.map((record) => record.report)),
  ];
}

function recordedEvent(row: RecordedRow): RecordedEvent {
  if (!row.found) return { outcome: 'unauthorized' };
  if (!row.owned) return { outcome: 'foreign' };
  if (!row.inserted) return { outcome: 'duplicate' };
  return row.moved_from !== null && row.task_id !== null ? { outcome: 'stored', moved: { from: row.moved_from, taskId: row.task_id } } : { outcome: 'stored' };
}
