import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import { applyStatusIn } from '../orchestrator-gateway/session.repository';

/** Names the reconciliation's advisory lock; any constant no other lock in this database uses. */
const RUN_LOCK_KEY = 0x6d6f7361_7265636fn;

/** The `error` of a session failed because the orchestrator never acknowledged its spawn. */
export const SPAWN_UNCONFIRMED_ERROR = 'spawn_unconfirmed';

@Injectable()
export class ReconciliationRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Runs `work` if no other process holds the reconciliation lock, and returns
   * `undefined` without running it otherwise. The lock is transaction-scoped,
   * so it is held by exactly one pooled connection and released however the
   * transaction ends, including when the process dies. `work` does its own
   * writes on other connections; this transaction only holds the lock.
   */
  async whileHoldingRunLock<T>(work: () => Promise<T>, options: { maxHoldMs: number }): Promise<T | undefined> {
    return this.prisma.$transaction(
      async (tx) => {
        const [row] = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${RUN_LOCK_KEY}::bigint) AS locked`;
        if (!row?.locked) return undefined;
        return work();
      },
      { timeout: options.maxHoldMs },
    );
  }

  /**
   * Fails a session still `spawning` without an orchestrator session id. The
   * row lock and the re-check make this lose cleanly to a spawn answer being
   * recorded at the same moment: that one wins and this changes nothing.
   */
  async failUnconfirmedSpawn(sessionId: string, at: Date): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM orchestrator_sessions
         WHERE id = ${sessionId}::uuid AND status = 'spawning' AND orchestrator_session_id IS NULL
         FOR UPDATE`;
      if (row === undefined) return false;
      return applyStatusIn(tx, sessionId, { status: 'failed', at, error: SPAWN_UNCONFIRMED_ERROR });
    });
  }
}
