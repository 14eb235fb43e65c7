import { Injectable, Logger } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';

/** Names the reconciliation's advisory lock; any constant no other lock in this database uses. */
const RUN_LOCK_KEY = 0x6d6f7361_7265636fn.toString();

@Injectable()
export class ReconciliationRepository {
  private readonly logger = new Logger(ReconciliationRepository.name);

  constructor(private readonly prisma: PrismaService) {}

  /**
   * Runs `work` if no other process holds the reconciliation lock, and returns
   * `undefined` without running it otherwise. The lock is a session-level
   * advisory lock on a connection kept for the run, not a transaction: a run
   * asks the orchestrator over HTTP, and no transaction may stay open across
   * such a call. The lock goes with the connection if the process dies. A run
   * that outlasts `maxHoldMs` fails and gives the lock up, so another process
   * may start.
   */
  async whileHoldingRunLock<T>(work: () => Promise<T>, options: { maxHoldMs: number }): Promise<T | undefined> {
    const connection = await this.prisma.connect();
    // The pool stops listening to a connection it has handed out: a server that ends it while the run is away on
    // HTTP (a database restart) would raise an 'error' event nobody handles, which ends the process. The lock is
    // gone with the connection; the run's next statement fails and the connection is discarded below.
    const lost = (error: Error) => this.logger.warn(`the reconciliation lock's database connection was lost: ${error.message}`);
    connection.on('error', lost);
    let unlocked = false;
    try {
      const { rows } = await connection.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [RUN_LOCK_KEY]);
      if (!rows[0]?.locked) {
        unlocked = true;
        return undefined;
      }
      let timer: NodeJS.Timeout | undefined;
      const overrun = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`reconciliation run took longer than ${options.maxHoldMs} ms: lock released`)),
          options.maxHoldMs,
        );
      });
      try {
        return await Promise.race([work(), overrun]);
      } finally {
        clearTimeout(timer);
        await connection.query('SELECT pg_advisory_unlock($1::bigint)', [RUN_LOCK_KEY]);
        unlocked = true;
      }
    } finally {
      connection.off('error', lost);
      // A connection that may still hold the lock is closed rather than pooled: closing it releases the lock.
      connection.release(!unlocked);
    }
  }
}
