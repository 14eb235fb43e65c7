import { Injectable } from '@nestjs/common';
import { TRACKED_SESSION_STATUSES, isTerminalStatus, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { PrismaService } from '../database/prisma.service';
import { Prisma } from '../database/generated/prisma/client';
import type { OrchestratorSession as SessionRow } from '../database/generated/prisma/client';
import { AppError } from '../http/app-error';
import { decodeCursor, encodeCursor } from './keyset-cursor';
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
   * Creates the session row in `spawning` before the spawn call. The unique
   * `active_task_id` index, not a read before the insert, guarantees one active
   * session per task even across API processes.
   */
  async createSpawning(session: NewSession): Promise<TrackedSession> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const previous = await tx.orchestratorSession.count({ where: { taskId: session.taskId } });
        const row = await tx.orchestratorSession.create({
          data: {
            id: session.id,
            taskId: session.taskId,
            activeTaskId: session.taskId,
            status: 'spawning',
            attempt: previous + 1,
            requestedBy: session.requestedBy,
            callbackTokenHash: session.callbackTokenHash,
            callbackTokenExpiresAt: session.callbackTokenExpiresAt,
          },
        });
        await tx.task.update({ where: { id: session.taskId }, data: { status: 'spawning' } });
        logSessionStatusChange({ sessionId: row.id, taskId: row.taskId, to: row.status });
        return toSession(row);
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new AppError('conflict', `task ${session.taskId} already has an active session`);
      }
      throw error;
    }
  }

  /** Records the orchestrator's acknowledgement of a spawn. */
  async recordSpawned(id: string, orchestratorSessionId: string, report: StatusReport): Promise<TrackedSession> {
    return this.prisma.$transaction(async (tx) => {
      await tx.orchestratorSession.updateMany({
        where: { id, orchestratorSessionId: null },
        data: { orchestratorSessionId },
      });
      await applyStatusIn(tx, id, report);
      return toSession(await tx.orchestratorSession.findUniqueOrThrow({ where: { id } }));
    });
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

  /** Active sessions that have not been heard of since `quietSince`: the reconciliation's work list. */
  async findQuiet(quietSince: Date, limit: number): Promise<TrackedSession[]> {
    const rows = await this.prisma.orchestratorSession.findMany({
      where: {
        status: { in: ACTIVE_STATUSES },
        updatedAt: { lt: quietSince },
        OR: [{ lastEventAt: null }, { lastEventAt: { lt: quietSince } }],
      },
      orderBy: { updatedAt: 'asc' },
      take: limit,
    });
    return rows.map(toSession);
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
