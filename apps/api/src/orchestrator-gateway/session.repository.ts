import { Injectable } from '@nestjs/common';
import { TRACKED_SESSION_STATUSES, isTerminalStatus, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { PrismaService, prepared } from '../database/prisma.service';
import { Prisma } from '../database/generated/prisma/client';
import type { OrchestratorSession as SessionRow } from '../database/generated/prisma/client';
import { AppError } from '../http/app-error';
import type { JsonObject, Task, TaskPriority, TaskStatus } from '../tasks/task';
import { decodeCursor, encodeCursor } from './keyset-cursor';
import { reportAssignments, reportMoves, reportParameterSql, reportTaskStatus, statusReportParameters } from './status-report.sql';
import { ACTIVE_STATUSES, statusesThatMayMoveTo } from './session-status.machine';
import { logSessionStatusChange } from './session-status-log';
import type { SessionPage, StatusReport, TrackedSession } from './session';

export interface NewSession {
  readonly id: string;
  readonly taskId: string;
  readonly requestedBy: string | null;
  readonly callbackTokenHash: string;
  readonly callbackTokenExpiresAt: Date;
}

/** A new session and the task it serves, as the statement that created the session left the task. */
export interface SpawningSession {
  readonly session: TrackedSession;
  readonly task: Task;
}

type Transaction = Prisma.TransactionClient;

/**
 * Tracks orchestrator sessions. Every status change goes through `applyStatus`,
 * which moves a session only forward (see session-status.machine.ts) and keeps
 * the task's status in step, in one transaction.
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
      rows = await this.prisma.run<SpawningRow>(CREATE_SPAWNING, [
        session.id,
        session.taskId,
        session.requestedBy,
        session.callbackTokenHash,
        session.callbackTokenExpiresAt.toISOString(),
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

  /**
   * Records the orchestrator's acknowledgement of a spawn: its session id, if
   * none is recorded yet, and its status report as `applyStatusIn` would apply
   * it, in one statement.
   */
  async recordSpawned(id: string, orchestratorSessionId: string, report: StatusReport): Promise<TrackedSession> {
    const rows = await this.prisma.run<RawSessionRow & { moved_from: TrackedSessionStatus | null }>(RECORD_SPAWNED, [
      id,
      orchestratorSessionId,
      ...statusReportParameters(report),
    ]);
    const row = rows[0];
    if (row === undefined) throw new Error(`session ${id} does not exist`);
    if (row.moved_from !== null) {
      logSessionStatusChange({ sessionId: id, taskId: row.task_id, from: row.moved_from, to: report.status, error: report.error });
    }
    return fromRawRow(row);
  }

  /** Applies a status report if it moves the session forward; returns the session as it now is. */
  async applyStatus(id: string, report: StatusReport): Promise<TrackedSession> {
    return this.prisma.$transaction(async (tx) => {
      await applyStatusIn(tx, id, report);
      return toSession(await tx.orchestratorSession.findUniqueOrThrow({ where: { id } }));
    });
  }

  async findById(id: string): Promise<TrackedSession | undefined> {
    const row = await this.prisma.orchestratorSession.findUnique({ where: { id } });
    return row ? toSession(row) : undefined;
  }

  /** How many sessions have each status, in one grouped query (the metrics scrape calls it). */
  async countByStatus(): Promise<Record<TrackedSessionStatus, number>> {
    const groups = await this.prisma.orchestratorSession.groupBy({ by: ['status'], _count: { _all: true } });
    const counts = Object.fromEntries(TRACKED_SESSION_STATUSES.map((status) => [status, 0])) as Record<TrackedSessionStatus, number>;
    for (const group of groups) counts[group.status] = group._count._all;
    return counts;
  }

  async findByOrchestratorId(orchestratorSessionId: string): Promise<TrackedSession | undefined> {
    const row = await this.prisma.orchestratorSession.findUnique({ where: { orchestratorSessionId } });
    return row ? toSession(row) : undefined;
  }

  async findLatestForTask(taskId: string): Promise<TrackedSession | undefined> {
    const row = await this.prisma.orchestratorSession.findFirst({
      where: { taskId },
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

/**
 * The conditional update carries the state machine's rule into the database, so
 * two reports racing on one session cannot move it backwards.
 */
export async function applyStatusIn(tx: Transaction, id: string, report: StatusReport): Promise<boolean> {
  const terminal = isTerminalStatus(report.status);
  const moved = await tx.orchestratorSession.updateMany({
    where: { id, status: { in: statusesThatMayMoveTo(report.status) } },
    data: {
      status: report.status,
      ...(report.status === 'running' ? { startedAt: report.at } : {}),
      ...(terminal ? { activeTaskId: null, endedAt: report.at } : {}),
      ...(report.error === undefined ? {} : { error: report.error }),
      ...(report.exitCode === undefined ? {} : { exitCode: report.exitCode }),
    },
  });
  if (moved.count === 0) return false;
  const session = await tx.orchestratorSession.findUniqueOrThrow({ where: { id }, select: { taskId: true } });
  await tx.task.update({ where: { id: session.taskId }, data: { status: report.status } });
  logSessionStatusChange({ sessionId: id, taskId: session.taskId, to: report.status, error: report.error });
  return true;
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
  started_at: Date | null;
  ended_at: Date | null;
  last_event_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const SESSION_COLUMNS = ['id', 'task_id', 'orchestrator_session_id', 'status', 'attempt', 'requested_by', 'last_sequence', 'error',
  'exit_code', 'started_at', 'ended_at', 'last_event_at', 'created_at', 'updated_at'] as const satisfies readonly (keyof RawSessionRow)[];

/** The task's columns that `CREATE_SPAWNING` returns beside the session's, each as `task_<column>`. */
interface SpawningRow extends RawSessionRow {
  task_title: string;
  task_description: string | null;
  task_status: TaskStatus;
  task_priority: TaskPriority;
  task_labels: string[];
  task_metadata: JsonObject;
  task_created_at: Date;
  task_updated_at: Date;
}

const TASK_COLUMNS = ['title', 'description', 'status', 'priority', 'labels', 'metadata', 'created_at', 'updated_at'] as const;

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
                                       callback_token_hash, callback_token_expires_at, updated_at)
    SELECT $1::uuid, tasks.id, tasks.id, 'spawning',
           (SELECT count(*) FROM orchestrator_sessions WHERE task_id = tasks.id)::int + 1,
           $3, $4, $5::timestamptz, now()
      FROM tasks WHERE tasks.id = $2::uuid
    RETURNING ${SESSION_COLUMNS.join(', ')}
  ), task AS (
    UPDATE tasks SET status = 'spawning', updated_at = now() FROM created
     WHERE tasks.id = created.task_id
    RETURNING tasks.id, ${TASK_COLUMNS.map((column) => `tasks.${column}`).join(', ')}
  )
  SELECT created.*, ${TASK_COLUMNS.map((column) => `task.${column} AS task_${column}`).join(', ')}
    FROM created JOIN task ON task.id = created.task_id`);

const SPAWN_REPORT = reportParameterSql(3);

/**
 * The report's parameters start at $3 (status-report.sql.ts); the task follows
 * the session only when it moved. `moved_from` is the status it
 * moved from, null when it did not move.
 */
const RECORD_SPAWNED = prepared(`
  WITH target AS (
    SELECT id, task_id, status, ${reportMoves('status', SPAWN_REPORT)} AS moves
      FROM orchestrator_sessions WHERE id = $1::uuid FOR UPDATE
  ), updated AS (
    UPDATE orchestrator_sessions AS s
       SET orchestrator_session_id = COALESCE(s.orchestrator_session_id, $2),
           ${reportAssignments('target.moves', SPAWN_REPORT)},
           updated_at = CASE WHEN target.moves OR s.orchestrator_session_id IS NULL THEN now() ELSE s.updated_at END
      FROM target
     WHERE s.id = target.id
    RETURNING ${SESSION_COLUMNS.map((column) => `s.${column}`).join(', ')}, CASE WHEN target.moves THEN target.status END AS moved_from
  ), task_moved AS (
    UPDATE tasks AS t SET status = ${reportTaskStatus(SPAWN_REPORT)}, updated_at = now()
      FROM target
     WHERE t.id = target.task_id AND target.moves
  )
  SELECT * FROM updated`);

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pgError = error as { code?: unknown; constraint?: unknown };
  return typeof error === 'object' && error !== null && pgError.code === '23505' && pgError.constraint === constraint;
}

function fromRawRow(row: RawSessionRow): TrackedSession {
  return {
    id: row.id,
    taskId: row.task_id,
    orchestratorSessionId: row.orchestrator_session_id,
    status: row.status,
    attempt: row.attempt,
    requestedBy: row.requested_by,
    lastSequence: row.last_sequence,
    error: row.error,
    exitCode: row.exit_code,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    lastEventAt: row.last_event_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function taskOfSpawningRow(row: SpawningRow): Task {
  return {
    id: row.task_id,
    title: row.task_title,
    description: row.task_description,
    status: row.task_status,
    priority: row.task_priority,
    labels: row.task_labels,
    metadata: row.task_metadata,
    createdAt: row.task_created_at,
    updatedAt: row.task_updated_at,
  };
}

function toSession(row: SessionRow): TrackedSession {
  return {
    id: row.id,
    taskId: row.taskId,
    orchestratorSessionId: row.orchestratorSessionId,
    status: row.status,
    attempt: row.attempt,
    requestedBy: row.requestedBy,
    lastSequence: row.lastSequence,
    error: row.error,
    exitCode: row.exitCode,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    lastEventAt: row.lastEventAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
