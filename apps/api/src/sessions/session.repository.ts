import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  type CallbackEventType,
  type JsonObject,
  type SessionStatus,
  type TaskPriority,
  TERMINAL_STATUSES,
  TRACKED_SESSION_STATUSES,
  type TrackedSessionStatus,
} from '@mosaic/orchestrator-contract';
import { PrismaService, prepared } from '../database/prisma.service';
import type { OrchestratorSession as SessionRow } from '../database/generated/prisma/client';
import { databaseUnavailable } from '../database/database-errors';
import { StatementBatcher } from '../database/statement-batcher';
import { AppError } from '@mosaic/http-kit';
import type { TaskToSerialize } from '../orchestrator-gateway/task-context.serializer';
import type { TokenValidity } from './callback-token.service';
import { decodeCursor, encodeCursor } from './keyset-cursor';
import {
  REPORT_COLUMNS,
  reportAssignments,
  reportColumnSql,
  reportMoves,
  reportParameterSql,
  reportTaskStatus,
  statusReportColumns,
  statusReportParameters,
} from './status-report.sql';
import { ACTIVE_STATUSES } from './session-status.machine';
import { logSessionStatusChange } from './session-status-log';
import { type BudgetCrossing, exceededLimit } from './budget';
import { SPAWN_UNCONFIRMED_ERROR, type SessionPage, type StatusReport, type TrackedSession } from './session';

export interface NewSession {
  readonly id: string;
  readonly taskId: string;
  readonly requestedBy: string | null;
  /** The operator who dispatched it, recorded in its event log (null: no record, for sessions no operator asked for). */
  readonly actor: string | null;
  readonly callbackTokenHash: string;
  readonly callbackTokenExpiresAt: Date;
  /** Whether its callbacks must be signed: the dispatch sent a signing secret. */
  readonly callbacksSigned: boolean;
}

/** A new session and the task it serves, as the statement that created the session left the task. */
export interface SpawningSession {
  readonly session: TrackedSession;
  readonly task: TaskToSerialize;
}

/** What a callback presents: the session in its path, the hash of its bearer token, and whether it carried a valid signature. */
export interface CallbackCredentials {
  readonly sessionId: string;
  readonly tokenHash: string;
  /** Checked by CallbackSigning; required of a session dispatched with a signing secret. */
  readonly signed: boolean;
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
  /** Set when this event took the session past its task's budget: the statement that stored it claimed the crossing. */
  readonly budgetCrossed?: BudgetCrossing;
}

/** One per callback of a batch, in the batch's order. */
interface RecordedRow {
  found: boolean;
  owned: boolean;
  inserted: boolean;
  moved_from: TrackedSessionStatus | null;
  task_id: string | null;
  crossed: boolean;
  input_tokens: string | null;
  output_tokens: string | null;
  cost_usd: string | null;
  budget_max_tokens: string | null;
  budget_max_cost_usd: string | null;
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
 * Callbacks that may wait to be stored at once. Past it a callback is answered
 * 503 at once and its sender retries later: what waits stays bounded (at most
 * 64 KiB a body) whatever the database does, about half a second of work at
 * the rates measured in docs/performance.md.
 */
export const MAX_QUEUED_CALLBACKS = 1_000;

/**
 * Longest a callback waits to be stored before it is answered 503: half the
 * orchestrator's default callback timeout (CALLBACK_TIMEOUT_MS, 10 s), so the
 * orchestrator reads the 503 and its Retry-After instead of timing out, and
 * retries the same event later.
 */
export const CALLBACK_MAX_WAIT_MS = 5_000;

interface MoveOptions {
  /** Recorded when the session has none yet (a spawn answer). */
  readonly orchestratorSessionId: string | null;
  /** Move only a session still `spawning` without an orchestrator session id. */
  readonly onlyUnconfirmed: boolean;
  /** The operator who asked for the move, recorded in the event log; null for no record. */
  readonly actor: string | null;
  /** More for that record's `data` (why, when it was no operator). */
  readonly detail?: Record<string, unknown> | null;
}

/**
 * Tracks orchestrator sessions and their event log. Every statement that moves
 * a session is here, and each applies a status report through the same SQL
 * (status-report.sql.ts, from the rule in session-status.machine.ts): a
 * session moves only forward, and its task follows it in the same statement.
 * A spawn answer, an operator's kill, a status poll and the reconciliation's
 * verdicts go through `move`; callbacks, which come in volume, through
 * `record`, batched.
 */
@Injectable()
export class OrchestratorSessionRepository {
  private readonly recorder = new StatementBatcher<CallbackRecord, RecordedEvent>({
    maxInFlight: MAX_RECORDING_BATCHES,
    maxBatchSize: MAX_BATCH_SIZE,
    keyOf: (record) => record.credentials.sessionId,
    run: (records) => this.recordBatch(records),
    maxQueued: MAX_QUEUED_CALLBACKS,
    overloaded: () => new AppError('at_capacity', 'too many callbacks are waiting to be stored; retry later'),
    maxWaitMs: CALLBACK_MAX_WAIT_MS,
    waitedTooLong: databaseUnavailable,
    // Values the database would refuse are refused by validation first; a timeout or a lost connection is nobody's item.
    retryAlone: (error) => !(error instanceof AppError && error.code === 'database_unavailable'),
  });

  constructor(private readonly prisma: PrismaService) {}

  /**
   * Creates the session row in `spawning` before the spawn call, numbering its
   * attempt and moving the task along, in one statement that also returns the
   * task, so that a dispatch needs no read of its own. The unique
   * `active_task_id` index, not a read before the insert, guarantees one active
   * session per task even across API processes.
   */
  async createSpawning(session: NewSession): Promise<SpawningSession> {
    let rows: SpawningRow[];
    try {
      rows = await this.prisma.queryPg<SpawningRow>(CREATE_SPAWNING, [
        session.id,
        session.taskId,
        session.requestedBy,
        session.callbackTokenHash,
        session.callbackTokenExpiresAt.toISOString(),
        session.actor,
        session.callbacksSigned,
      ]);
    } catch (error) {
      if (isUniqueViolation(error, 'orchestrator_sessions_active_task_id_key')) {
        throw new AppError('conflict', `task ${session.taskId} already has an active session`);
      }
      throw error;
    }
    const row = rows[0];
    if (row === undefined) throw new AppError('not_found', `task ${session.taskId} not found`);
    logSessionStatusChange({ sessionId: row.id, taskId: row.task_id, to: row.status });
    return { session: fromRawRow(row), task: taskOfSpawningRow(row) };
  }

  /** Records the orchestrator's acknowledgement of a spawn: its session id, if none is recorded yet, and its status report. */
  async recordSpawned(id: string, orchestratorSessionId: string, report: StatusReport): Promise<TrackedSession> {
    const moved = await this.move(id, report, { orchestratorSessionId, onlyUnconfirmed: false, actor: null });
    if (moved === undefined) throw new Error(`session ${id} does not exist`);
    return moved;
  }

  /**
   * Applies a status report if it moves the session forward; returns the
   * session as it now is. With an `actor` (an operator's kill or cancel), the report is
   * also recorded in the event log as a `status` event with `data.actor`, and `detail` beside it.
   */
  async applyStatus(id: string, report: StatusReport, audit: { actor?: string; detail?: Record<string, unknown> } = {}): Promise<TrackedSession> {
    const moved = await this.move(id, report, { orchestratorSessionId: null, onlyUnconfirmed: false, actor: audit.actor ?? null, detail: audit.detail ?? null });
    if (moved === undefined) throw new Error(`session ${id} does not exist`);
    return moved;
  }

  /**
   * Fails a session still `spawning` without an orchestrator session id. The
   * statement's row lock and condition make this lose cleanly to a spawn answer
   * recorded at the same moment: that one wins and this changes nothing.
   */
  async failUnconfirmedSpawn(id: string, at: Date): Promise<boolean> {
    const moved = await this.move(id, { status: 'failed', at, error: SPAWN_UNCONFIRMED_ERROR }, { orchestratorSessionId: null, onlyUnconfirmed: true, actor: null });
    return moved?.status === 'failed';
  }

  /**
   * Records the orchestrator session that a spawn never confirmed to the API did
   * start, and marks the session `spawn_unconfirmed` (its status unchanged), if
   * it is still unconfirmed: reconciliation then kills that session. Returns the
   * session as it now is, or undefined when a spawn answer or a callback
   * recorded an orchestrator session first.
   */
  async recordUnconfirmedSpawnStarted(id: string, orchestratorSessionId: string): Promise<TrackedSession | undefined> {
    const rows = await this.prisma.queryPg<RawSessionRow>(RECORD_UNCONFIRMED_SPAWN_STARTED, [id, orchestratorSessionId, SPAWN_UNCONFIRMED_ERROR]);
    return rows[0] === undefined ? undefined : fromRawRow(rows[0]);
  }

  private async move(id: string, report: StatusReport, options: MoveOptions): Promise<TrackedSession | undefined> {
    const rows = await this.prisma.queryPg<RawSessionRow & { moved_from: TrackedSessionStatus | null }>(MOVE, [
      id,
      options.orchestratorSessionId,
      options.onlyUnconfirmed,
      ...statusReportParameters(report),
      options.actor,
      options.actor === null ? null : `api-${randomUUID()}`,
      options.detail == null ? null : JSON.stringify(options.detail),
    ]);
    const row = rows[0];
    if (row === undefined) return undefined;
    if (row.moved_from !== null) {
      logSessionStatusChange({ sessionId: id, taskId: row.task_id, from: row.moved_from, to: report.status, error: report.error });
    }
    return fromRawRow(row);
  }

  /** Whether `credentials` hold the session's token, valid by `validity`. Only for callbacks refused anyway. */
  async authenticates(credentials: CallbackCredentials, validity: TokenValidity): Promise<boolean> {
    const rows = await this.prisma.queryPg(AUTHENTICATES, [
      credentials.sessionId,
      credentials.tokenHash,
      validity.expiresAfter.toISOString(),
      validity.endedAfter.toISOString(),
      TERMINAL_STATUSES,
      credentials.signed,
    ]);
    return rows.length > 0;
  }

  /**
   * Stores a callback's event once per (session, event id) if the credentials
   * hold the session's valid token and, if it was new, advances the session's
   * sequence and applies the report, in one statement (so a stored status
   * event is never left unapplied). Callbacks that arrive while others are
   * being stored are stored together by the next statement (group commit, see
   * StatementBatcher), run on `pg` directly rather than through Prisma, whose
   * per-query CPU cost bounded the callback rate (docs/performance.md).
   */
  record(record: CallbackRecord, signal?: AbortSignal): Promise<RecordedEvent> {
    return this.recorder.submit(record, signal);
  }

  /** Callbacks waiting to be stored (a gauge of /metrics). */
  get queuedCallbacks(): number {
    return this.recorder.queued;
  }

  private async recordBatch(records: readonly CallbackRecord[]): Promise<RecordedEvent[]> {
    const rows = await this.prisma.queryPg<RecordedRow>(RECORD, recordColumns(records));
    return rows.map(recordedEvent);
  }

  async findById(id: string): Promise<TrackedSession | undefined> {
    const row = await this.prisma.orchestratorSession.findUnique({ where: { id }, include: WITH_TASK_TITLE });
    return row ? toSession(row) : undefined;
  }

  /** The sessions of `ids` that exist, in no particular order. */
  async findByIds(ids: readonly string[]): Promise<TrackedSession[]> {
    const rows = await this.prisma.orchestratorSession.findMany({ where: { id: { in: [...ids] } }, include: WITH_TASK_TITLE });
    return rows.map(toSession);
  }

  /** How many sessions have each status, in one grouped query (the metrics scrape calls it). */
  async countByStatus(): Promise<Record<TrackedSessionStatus, number>> {
    const groups = await this.prisma.orchestratorSession.groupBy({ by: ['status'], _count: { _all: true } });
    const counts = Object.fromEntries(TRACKED_SESSION_STATUSES.map((status) => [status, 0])) as Record<TrackedSessionStatus, number>;
    for (const group of groups) counts[group.status] = group._count._all;
    return counts;
  }

  async findByOrchestratorId(orchestratorSessionId: string): Promise<TrackedSession | undefined> {
    const row = await this.prisma.orchestratorSession.findUnique({ where: { orchestratorSessionId }, include: WITH_TASK_TITLE });
    return row ? toSession(row) : undefined;
  }

  async findLatestForTask(taskId: string): Promise<TrackedSession | undefined> {
    const row = await this.prisma.orchestratorSession.findFirst({
      where: { taskId },
      include: WITH_TASK_TITLE,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    return row ? toSession(row) : undefined;
  }

  /** Newest first, by keyset: a page costs the same however long the history is. */
  async list(query: { status?: TrackedSessionStatus; limit: number; cursor?: string }): Promise<SessionPage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = await this.prisma.orchestratorSession.findMany({
      where: {
        ...(query.status === undefined ? {} : { status: query.status }),
        // The redundant `lte` bounds the index scan at the cursor; the OR alone is only a filter, which
        // made a page cost as many index entries as there are sessions newer than the cursor.
        ...(after === undefined
          ? {}
          : {
              createdAt: { lte: after.createdAt },
              OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
            }),
      },
      include: WITH_TASK_TITLE,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: query.limit + 1,
    });
    const page = rows.slice(0, query.limit).map(toSession);
    const last = page.at(-1);
    return { sessions: page, nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null };
  }

  /**
   * Active sessions that have not been heard of since `quietSince`, the
   * reconciliation's work list: least recently updated first, read `pageSize`
   * at a time by keyset, so that every one is reached even when many stay
   * unchanged (and so first) run after run.
   */
  async *quietSessions(quietSince: Date, pageSize: number): AsyncGenerator<TrackedSession> {
    let after: { updatedAt: Date; id: string } | undefined;
    for (;;) {
      const rows = await this.prisma.orchestratorSession.findMany({
        where: {
          status: { in: ACTIVE_STATUSES },
          updatedAt: { lt: quietSince },
          AND: [
            { OR: [{ lastEventAt: null }, { lastEventAt: { lt: quietSince } }] },
            ...(after === undefined ? [] : [{ OR: [{ updatedAt: { gt: after.updatedAt } }, { updatedAt: after.updatedAt, id: { gt: after.id } }] }]),
          ],
        },
        include: WITH_TASK_TITLE,
        orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }],
        take: pageSize,
      });
      yield* rows.map(toSession);
      const last = rows.at(-1);
      if (last === undefined || rows.length < pageSize) return;
      after = { updatedAt: last.updatedAt, id: last.id };
    }
  }
}

/** A session row as `pg` returns it, for the statements that bypass Prisma. */
interface RawSessionRow {
  id: string;
  task_id: string;
  orchestrator_session_id: string | null;
  status: TrackedSessionStatus;
  attempt: number;
  requested_by: string | null;
  last_sequence: number;
  error: string | null;
  exit_code: number | null;
  node: string | null;
  queue_position: number | null;
  input_tokens: string;
  output_tokens: string;
  cost_usd: string;
  started_at: Date | null;
  ended_at: Date | null;
  last_event_at: Date | null;
  created_at: Date;
  updated_at: Date;
  task_title: string;
}

const SESSION_COLUMNS = ['id', 'task_id', 'orchestrator_session_id', 'status', 'attempt', 'requested_by', 'last_sequence', 'error',
  'exit_code', 'node', 'queue_position', 'input_tokens', 'output_tokens', 'cost_usd', 'started_at', 'ended_at', 'last_event_at', 'created_at', 'updated_at'] as const satisfies readonly (keyof RawSessionRow)[];

/** The title of the session `s`'s task, for the statements that return a session row. */
const TASK_TITLE = '(SELECT title FROM tasks WHERE tasks.id = s.task_id) AS task_title';

/** The task's columns that `CREATE_SPAWNING` returns beside the session's, each as `task_<column>`. */
interface SpawningRow extends RawSessionRow {
  task_description: string | null;
  task_priority: TaskPriority;
  task_labels: string[];
  task_metadata: JsonObject;
  task_created_at: Date;
}

const TASK_COLUMNS = ['title', 'description', 'priority', 'labels', 'metadata', 'created_at'] as const;

/**
 * The session row first, then the task's. A second active session fails on
 * the unique index, which waits for a transaction that is changing the task's
 * active session; that transaction then moves the task (recording a spawn
 * answer or a callback), so the task row must not be locked by then: with the
 * task updated first, the two deadlocked.
 */
const CREATE_SPAWNING = prepared(`
  WITH created AS (
    INSERT INTO orchestrator_sessions (id, task_id, active_task_id, status, attempt, requested_by,
                                       callback_token_hash, callback_token_expires_at, callbacks_signed, updated_at)
    SELECT $1::uuid, tasks.id, tasks.id, 'spawning',
           (SELECT count(*) FROM orchestrator_sessions WHERE task_id = tasks.id)::int + 1,
           $3, $4, $5::timestamptz, $7::boolean, now()
      FROM tasks WHERE tasks.id = $2::uuid
    RETURNING ${SESSION_COLUMNS.join(', ')}
  ), audit AS (
    INSERT INTO orchestrator_session_events (session_id, event_id, sequence, type, status, occurred_at, data)
    SELECT created.id, 'api-dispatch', 0, 'status', 'spawning', now(), jsonb_build_object('actor', $6::text) FROM created
     WHERE $6::text IS NOT NULL
  ), task AS (
    UPDATE tasks SET status = 'spawning', updated_at = now() FROM created
     WHERE tasks.id = created.task_id
    RETURNING tasks.id, ${TASK_COLUMNS.map((column) => `tasks.${column}`).join(', ')}
  )
  SELECT created.*, ${TASK_COLUMNS.map((column) => `task.${column} AS task_${column}`).join(', ')}
    FROM created JOIN task ON task.id = created.task_id`);

const MOVE_REPORT = reportParameterSql(4);

/**
 * Applies one status report to one session: $1 the session, $2 the
 * orchestrator's session id to record if none is (or null), $3 whether only a
 * session still unconfirmed may move, the report from $4 (status-report.sql.ts),
 * and, to record who asked in the event log, $13 the actor, $14 the event's
 * id and $15 more for its data (no record when the actor is null).
 * The task follows the session only when it moved. Answers the session as it
 * now is, with `moved_from`, the status it moved from (null when it did not
 * move); no row when there is no such session (or it is no longer unconfirmed).
 */
const MOVE = prepared(`
  WITH target AS (
    SELECT id, task_id, status, ${reportMoves('status', MOVE_REPORT)} AS moves
      FROM orchestrator_sessions
     WHERE id = $1::uuid AND (NOT $3::boolean OR (status = 'spawning' AND orchestrator_session_id IS NULL))
       FOR UPDATE
  ), updated AS (
    UPDATE orchestrator_sessions AS s
       SET orchestrator_session_id = COALESCE(s.orchestrator_session_id, $2::text),
           ${reportAssignments('target.moves', MOVE_REPORT)},
           updated_at = CASE WHEN target.moves OR (s.orchestrator_session_id IS NULL AND $2::text IS NOT NULL) THEN now() ELSE s.updated_at END
      FROM target
     WHERE s.id = target.id
    RETURNING ${SESSION_COLUMNS.map((column) => `s.${column}`).join(', ')}, ${TASK_TITLE}, CASE WHEN target.moves THEN target.status END AS moved_from
  ), task_moved AS (
    UPDATE tasks AS t SET status = ${reportTaskStatus(MOVE_REPORT)}, updated_at = now()
      FROM target
     WHERE t.id = target.task_id AND target.moves
  ), audit AS (
    INSERT INTO orchestrator_session_events (session_id, event_id, sequence, type, status, occurred_at, data)
    SELECT updated.id, $14::text, updated.last_sequence, 'status', ${MOVE_REPORT.status}::session_status, now(),
           COALESCE($15::jsonb, '{}'::jsonb) || jsonb_build_object('actor', $13::text)
      FROM updated WHERE $13::text IS NOT NULL
  )
  SELECT * FROM updated`);

const RECORD_UNCONFIRMED_SPAWN_STARTED = prepared(`
  UPDATE orchestrator_sessions AS s SET orchestrator_session_id = $2::text, error = $3::text, updated_at = now()
   WHERE id = $1::uuid AND status = 'spawning' AND orchestrator_session_id IS NULL
  RETURNING ${SESSION_COLUMNS.join(', ')}, ${TASK_TITLE}`);

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pgError = error as { code?: unknown; constraint?: unknown };
  return typeof error === 'object' && error !== null && pgError.code === '23505' && pgError.constraint === constraint;
}

function fromRawRow(row: RawSessionRow): TrackedSession {
  return {
    id: row.id,
    taskId: row.task_id,
    taskTitle: row.task_title,
    orchestratorSessionId: row.orchestrator_session_id,
    status: row.status,
    attempt: row.attempt,
    requestedBy: row.requested_by,
    lastSequence: row.last_sequence,
    error: row.error,
    exitCode: row.exit_code,
    node: row.node,
    queuePosition: row.queue_position,
    usage: { inputTokens: Number(row.input_tokens), outputTokens: Number(row.output_tokens), costUsd: Number(row.cost_usd) },
    startedAt: row.started_at,
    endedAt: row.ended_at,
    lastEventAt: row.last_event_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function taskOfSpawningRow(row: SpawningRow): TaskToSerialize {
  return {
    id: row.task_id,
    title: row.task_title,
    description: row.task_description,
    priority: row.task_priority,
    labels: row.task_labels,
    metadata: row.task_metadata,
    createdAt: row.task_created_at,
  };
}

/** What the Prisma reads of a session include: its task's title. */
const WITH_TASK_TITLE = { task: { select: { title: true } } } as const;

function toSession(row: SessionRow & { task: { title: string } }): TrackedSession {
  return {
    id: row.id,
    taskId: row.taskId,
    taskTitle: row.task.title,
    orchestratorSessionId: row.orchestratorSessionId,
    status: row.status,
    attempt: row.attempt,
    requestedBy: row.requestedBy,
    lastSequence: row.lastSequence,
    error: row.error,
    exitCode: row.exitCode,
    node: row.node,
    queuePosition: row.queuePosition,
    usage: { inputTokens: Number(row.inputTokens), outputTokens: Number(row.outputTokens), costUsd: row.costUsd.toNumber() },
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    lastEventAt: row.lastEventAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * The token rule of CallbackTokenService, applied by the database to the
 * session `s`: the hash matches, the token has not expired by `expiresAfter`,
 * and the session has not been terminal since before `endedAfter`. Comparing
 * hashes need not be constant-time: how much of a SHA-256 digest matches
 * tells nothing about the token.
 */
function acceptsToken(token: { sessionId: string; tokenHash: string; expiresAfter: string; endedAfter: string; terminalStatuses: string; signed: string }): string {
  return `s.id = ${token.sessionId}
    AND s.callback_token_hash = ${token.tokenHash}
    AND s.callback_token_expires_at > ${token.expiresAfter}
    AND (s.ended_at IS NULL OR s.status <> ALL(${token.terminalStatuses}::text[]::session_status[]) OR s.ended_at > ${token.endedAfter})
    AND (NOT s.callbacks_signed OR ${token.signed})`;
}

const AUTHENTICATES = prepared(`SELECT 1 FROM orchestrator_sessions AS s
  WHERE ${acceptsToken({ sessionId: '$1::uuid', tokenHash: '$2', expiresAfter: '$3::timestamptz', endedAfter: '$4::timestamptz', terminalStatuses: '$5', signed: '$6::boolean' })}`);

/** The columns of RECORD's input rows, one array parameter each from $2 on, and their SQL types. */
const EVENT_COLUMNS = [
  ['session_id', 'uuid'],
  ['token_hash', 'text'],
  ['expires_after', 'timestamptz'],
  ['ended_after', 'timestamptz'],
  ['signed', 'boolean'],
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
 * never arrived, and applies its report as `move` does: only to a
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
      SELECT i.n, s.id, s.task_id, s.status, s.orchestrator_session_id, s.input_tokens, s.output_tokens, s.cost_usd, s.budget_exceeded_at,
             s.budget_max_tokens, s.budget_max_cost_usd
        FROM (SELECT * FROM input ORDER BY session_id) AS i
        CROSS JOIN LATERAL (
          SELECT s.id, s.task_id, s.status, s.orchestrator_session_id, s.input_tokens, s.output_tokens, s.cost_usd, s.budget_exceeded_at,
                 tasks.budget_max_tokens, tasks.budget_max_cost_usd
            FROM orchestrator_sessions AS s JOIN tasks ON tasks.id = s.task_id
           WHERE ${acceptsToken({ sessionId: 'i.session_id', tokenHash: 'i.token_hash', expiresAfter: 'i.expires_after', endedAfter: 'i.ended_after', terminalStatuses: '$1', signed: 'i.signed' })}
             FOR UPDATE OF s
        ) AS s
    ), owned AS (
      SELECT t.*
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
    ), spent AS (
      SELECT o.n, o.id, o.task_id, o.status, o.budget_exceeded_at, o.budget_max_tokens, o.budget_max_cost_usd,
             ${reportMoves('o.status', REPORT)} AS moves,
             o.input_tokens + u.input_tokens AS input_tokens, o.output_tokens + u.output_tokens AS output_tokens, o.cost_usd + u.cost_usd AS cost_usd,
             u.input_tokens AS added_input_tokens, u.output_tokens AS added_output_tokens, u.cost_usd AS added_cost_usd
        FROM owned AS o JOIN input AS i ON i.n = o.n JOIN inserted ON inserted.session_id = o.id
        CROSS JOIN LATERAL (
          SELECT CASE WHEN i.type = 'usage' THEN COALESCE((i.data->>'input_tokens')::bigint, 0) ELSE 0 END AS input_tokens,
                 CASE WHEN i.type = 'usage' THEN COALESCE((i.data->>'output_tokens')::bigint, 0) ELSE 0 END AS output_tokens,
                 CASE WHEN i.type = 'usage' THEN COALESCE((i.data->>'cost_usd')::numeric, 0) ELSE 0 END AS cost_usd
        ) AS u
    ), applied AS (
      SELECT spent.*,
             -- Passed its budget with this event, while still active: claimed here, so that one statement alone sees it happen.
             spent.budget_exceeded_at IS NULL
               AND (CASE WHEN spent.moves THEN i.report_status ELSE spent.status::text END) <> ALL($1::text[])
               AND ((spent.budget_max_tokens IS NOT NULL AND spent.input_tokens + spent.output_tokens > spent.budget_max_tokens)
                 OR (spent.budget_max_cost_usd IS NOT NULL AND spent.cost_usd > spent.budget_max_cost_usd)) AS crossed
        FROM spent JOIN input AS i ON i.n = spent.n
    ), advanced AS (
      UPDATE orchestrator_sessions AS s
         SET last_sequence = GREATEST(s.last_sequence, i.sequence),
             last_event_at = now(),
             orchestrator_session_id = COALESCE(s.orchestrator_session_id, i.orchestrator_session_id),
             input_tokens = a.input_tokens,
             output_tokens = a.output_tokens,
             cost_usd = a.cost_usd,
             budget_exceeded_at = CASE WHEN a.crossed THEN now() ELSE s.budget_exceeded_at END,
             ${reportAssignments('a.moves', REPORT)},
             updated_at = now()
        FROM applied AS a JOIN input AS i ON i.n = a.n
       WHERE s.id = a.id
    ), task_moved AS (
      UPDATE tasks AS t SET status = ${reportTaskStatus(REPORT)}, updated_at = now()
        FROM applied AS a JOIN input AS i ON i.n = a.n
       WHERE t.id = a.task_id AND a.moves
    ), daily AS (
      -- No usage in the batch, no row: the day's row is locked only by the statements that count usage.
      INSERT INTO daily_usage AS d (day, input_tokens, output_tokens, cost_usd)
      SELECT (now() AT TIME ZONE 'UTC')::date, sum(a.added_input_tokens), sum(a.added_output_tokens), sum(a.added_cost_usd)
        FROM applied AS a JOIN input AS i ON i.n = a.n
       WHERE i.type = 'usage'
      HAVING count(*) > 0
      ON CONFLICT (day) DO UPDATE SET input_tokens = d.input_tokens + EXCLUDED.input_tokens,
                                      output_tokens = d.output_tokens + EXCLUDED.output_tokens,
                                      cost_usd = d.cost_usd + EXCLUDED.cost_usd
    )
    SELECT t.n IS NOT NULL AS found,
           o.n IS NOT NULL AS owned,
           a.n IS NOT NULL AS inserted,
           CASE WHEN a.moves THEN a.status END AS moved_from,
           CASE WHEN a.moves THEN a.task_id END AS task_id,
           COALESCE(a.crossed, false) AS crossed,
           a.input_tokens::text AS input_tokens, a.output_tokens::text AS output_tokens, a.cost_usd::text AS cost_usd,
           a.budget_max_tokens::text AS budget_max_tokens, a.budget_max_cost_usd::text AS budget_max_cost_usd
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
    column((record) => record.credentials.signed),
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
  return {
    outcome: 'stored',
    ...(row.moved_from !== null && row.task_id !== null ? { moved: { from: row.moved_from, taskId: row.task_id } } : {}),
    ...(row.crossed ? { budgetCrossed: budgetCrossingOf(row) } : {}),
  };
}

function budgetCrossingOf(row: RecordedRow): BudgetCrossing {
  const usage = { inputTokens: Number(row.input_tokens), outputTokens: Number(row.output_tokens), costUsd: Number(row.cost_usd) };
  const budget = {
    ...(row.budget_max_tokens === null ? {} : { maxTokens: Number(row.budget_max_tokens) }),
    ...(row.budget_max_cost_usd === null ? {} : { maxCostUsd: Number(row.budget_max_cost_usd) }),
  };
  const crossing = exceededLimit(budget, usage);
  if (crossing === undefined) throw new Error('the database claimed a budget crossing that the usage does not show');
  return crossing;
}
