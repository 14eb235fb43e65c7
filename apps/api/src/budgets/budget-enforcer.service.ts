import { Injectable, Logger } from '@nestjs/common';
import { isTerminalStatus } from '@mosaic/orchestrator-contract';
import { ApiConfig } from '../config/api-config';
import { type BudgetCrossing, describeCrossing } from '../sessions/budget';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import type { Actor } from '../sessions/session';
import { SessionSyncService } from '../sessions/session-sync.service';

/** The actor the event log names for a cancel of a session that passed its budget. */
export const BUDGET_ACTOR: Actor = { name: 'budget', keyId: null };

/**
 * Cancels a session that passed its task's budget, through the gateway with
 * the configured grace. Only the check that claimed the crossing calls it
 * (callback-batch-usage.sql.ts for usage, BudgetWatcher for duration), so a session
 * is cancelled once however many API instances see its callbacks. It ends
 * `cancelled` with error `budget_exceeded` (status-report.sql.ts), and the
 * event log's record of the cancel says which limit, and by how much.
 */
@Injectable()
export class BudgetEnforcer {
  private readonly logger = new Logger(BudgetEnforcer.name);

  constructor(
    private readonly sessions: OrchestratorSessionRepository,
    private readonly sync: SessionSyncService,
    private readonly config: ApiConfig,
  ) {}

  /** Never throws: a cancel that fails is tried again by BudgetWatcher. */
  async enforce(sessionId: string, crossing: BudgetCrossing | undefined): Promise<void> {
    try {
      const session = await this.sessions.findById(sessionId);
      if (session === undefined || isTerminalStatus(session.status)) return;
      this.logger.log(
        `session ${sessionId} passed its budget${crossing === undefined ? '' : ` (${crossing.limit} ${crossing.max}, used ${crossing.used})`}: cancelling it`,
      );
      await this.sync.cancel(
        session,
        BUDGET_ACTOR,
        { grace_ms: this.config.budgets.cancelGraceMs },
        crossing === undefined ? { reason: 'budget_exceeded' } : describeCrossing(crossing),
      );
    } catch (error) {
      this.logger.warn(`cancelling session ${sessionId}, which passed its budget, failed: ${(error as Error).message}; it is tried again`);
    }
  }
}
