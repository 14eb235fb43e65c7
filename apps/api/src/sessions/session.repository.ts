import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  type AgentSettings,
  type JsonObject,
  type RepositoryRequest,
  type TaskPriority,
  TRACKED_SESSION_STATUSES,
  type TrackedSessionStatus,
} from '@mosaic/orchestrator-contract';
import { PrismaService, prepared } from '../database/prisma.service';
import type { OrchestratorSession as SessionRow } from '../database/generated/prisma/client';
import { AppError } from '@mosaic/http-kit';
import type { TaskToSerialize } from '../orchestrator-gateway/task-context.serializer';
import { decodeCursor, encodeCursor } from './keyset-cursor';
import { reportAssignments, reportMoves, reportParameterSql, reportTaskStatus, statusReportParameters } from './status-report.sql';
import { ACTIVE_STATUSES } from './session-status.machine';
import { logSessionStatusChange } from './session-status-log';
import { type Actor, SPAWN_UNCONFIRMED_ERROR, type SessionPage, type StatusReport, type TrackedSession, auditOf } from './session';

export interface NewSession {
  readonly id: string;
  readonly taskId: string;
  readonly requestedBy: string | null;
  /** The operator who dispatched it, recorded in its event log (null: no record, for sessions no operator asked for). */
  readonly actor: Actor | null;
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

interface MoveOptions {
  /** Recorded when the session has none yet (a spawn answer). */
  readonly orchestratorSessionId: string | null;
  /** Move only a session still `spawning` without an orchestrator session id. */
  readonly onlyUnconfirmed: boolean;
  /** The operator who asked for the move, recorded in the event log; null for no record. */
  readonly actor: Actor | null;
  /** More for that record's `data` (why, when it was no operator). */
  readonly detail?: Record<string, unknown> | null;
}

/**
 * Tracks orchestrator sessions and their event log. Every statement that moves
 * a session applies a status report through the same SQL (status-report.sql.ts,
 * from the rule in session-status.machine.ts): a session moves only forward,
 * and its task follows it in the same statement. A spawn answer, an operator's
 * kill, a status poll and the reconciliation's verdicts go through `move` here;
 * callbacks, which come in volume, through the callback batch
 * (callbacks/callback-batch.sql.ts, its moves in callback-batch-moves.sql.ts).
 */
@Injectable()
export class OrchestratorSessionRepository {
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
        session.actor === null ? null : JSON.stringify(auditOf(session.actor)),
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
  async applyStatus(
    id: string,
    report: StatusReport,
    audit: { actor?: Actor; detail?: Record<string, unknown> } = {},
  ): Promise<TrackedSession> {
    const moved = await this.move(id, report, {
      orchestratorSessionId: null,
      onlyUnconfirmed: false,
      actor: audit.actor ?? null,
      detail: audit.detail ?? null,
    });
    if (moved === undefined) throw new Error(`session ${id} does not exist`);
    return moved;
  }

  /**
   * Fails a session still `spawning` without an orchestrator session id. The
   * statement's row lock and condition make this lose cleanly to a spawn answer
   * recorded at the same moment: that one wins and this changes nothing.
   */
  async failUnconfirmedSpawn(id: string, at: Date): Promise<boolean> {
    const moved = await this.move(
      id,
      { status: 'failed', at, error: SPAWN_UNCONFIRMED_ERROR },
      { orchestratorSessionId: null, onlyUnconfirmed: true, actor: null },
    );
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
    const rows = await this.prisma.queryPg<RawSessionRow>(RECORD_UNCONFIRMED_SPAWN_STARTED, [
      id,
      orchestratorSessionId,
      SPAWN_UNCONFIRMED_ERROR,
    ]);
    return rows[0] === undefined ? undefined : fromRawRow(rows[0]);
  }

  private async move(id: string, report: StatusReport, options: MoveOptions): Promise<TrackedSession | undefined> {
    const rows = await this.prisma.queryPg<RawSessionRow & { moved_from: TrackedSessionStatus | null }>(MOVE, [
      id,
      options.orchestratorSessionId,
      options.onlyUnconfirmed,
      ...statusReportParameters(report),
      options.actor === null ? null : JSON.stringify(auditOf(options.actor)),
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
            ...(after === undefined
              ? []
              : [{ OR: [{ updatedAt: { gt: after.updatedAt } }, { updatedAt: after.updatedAt, id: { gt: after.id } }] }]),
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

const SESSION_COLUMNS = [
  'id',
  'task_id',
  'orchestrator_session_id',
  'status',
  'attempt',
  'requested_by',
  'last_sequence',
  'error',
  'exit_code',
  'node',
  'queue_position',
  'input_tokens',
  'output_tokens',
  'cost_usd',
  'started_at',
  'ended_at',
  'last_event_at',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof RawSessionRow)[];

/** The title of the session `s`'s task, for the statements that return a session row. */
const TASK_TITLE = '(SELECT title FROM tasks WHERE tasks.id = s.task_id) AS task_title';

/** The task's columns that `CREATE_SPAWNING` returns beside the session's, each as `task_<column>`. */
interface SpawningRow extends RawSessionRow {
  task_description: string | null;
  task_priority: TaskPriority;
  task_labels: string[];
  task_metadata: JsonObject;
  task_created_at: Date;
  task_agent: AgentSettings | null;
  task_repository: RepositoryRequest | null;
}

const TASK_COLUMNS = ['title', 'description', 'priority', 'labels', 'metadata', 'created_at', 'agent', 'repository'] as const;

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
    SELECT created.id, 'api-dispatch', 0, 'status', 'spawning', now(), $6::jsonb FROM created
     WHERE $6::jsonb IS NOT NULL
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
 * and, to record who asked in the event log, $13 the actor's part of its data
 * (auditOf), $14 the event's id and $15 more for its data (no record when the actor is null).
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
           COALESCE($15::jsonb, '{}'::jsonb) || $13::jsonb
      FROM updated WHERE $13::jsonb IS NOT NULL
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
    agent: row.task_agent,
    repository: row.task_repository,
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
