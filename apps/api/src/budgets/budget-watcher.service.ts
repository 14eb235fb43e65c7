import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ApiConfig } from '../config/api-config';
import { BudgetEnforcer } from './budget-enforcer.service';
import { BudgetRepository } from './budget.repository';

/** How long after its claim a session still active has its cancel tried again. */
const RETRY_UNFINISHED_AFTER_MS = 30_000;

/**
 * Enforces `max_duration_s`, which no callback reports, every
 * BUDGET_CHECK_INTERVAL_MS; and tries again the cancels of sessions claimed
 * for passing a budget that are still active a while later.
 */
@Injectable()
export class BudgetWatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BudgetWatcher.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly retried = new Map<string, number>();

  constructor(
    private readonly budgets: BudgetRepository,
    private readonly enforcer: BudgetEnforcer,
    private readonly config: ApiConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.check().finally(() => (this.running = undefined));
    }, this.config.budgets.checkIntervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async check(): Promise<void> {
    try {
      const claimed = await this.budgets.claimOverdue();
      await Promise.all(claimed.map(({ sessionId, crossing }) => this.enforcer.enforce(sessionId, crossing)));
      const now = Date.now();
      const unfinished = await this.budgets.unfinishedClaims(new Date(now - RETRY_UNFINISHED_AFTER_MS - this.config.budgets.cancelGraceMs));
      for (const sessionId of unfinished) {
        if ((this.retried.get(sessionId) ?? 0) > now - RETRY_UNFINISHED_AFTER_MS) continue;
        this.retried.set(sessionId, now);
        // Retries run side by side; enforce logs its own failures and is retried again on the next tick.
        void this.enforcer.enforce(sessionId, undefined);
      }
      for (const [sessionId, at] of this.retried) if (at < now - 10 * RETRY_UNFINISHED_AFTER_MS) this.retried.delete(sessionId);
    } catch (error) {
      this.logger.warn(`checking budgets failed: ${(error as Error).message}`);
    }
  }
}
