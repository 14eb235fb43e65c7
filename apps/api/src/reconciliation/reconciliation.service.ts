import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ApiConfig } from '../config/api-config';
import { ApiMetrics } from '../metrics/api-metrics';
import { OrchestratorError } from '../orchestrator-gateway/orchestrator.errors';
import { LOST_ERROR, type TrackedSession } from '../sessions/session';
import { SessionSyncService } from '../sessions/session-sync.service';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import { ReconciliationRepository } from './reconciliation.repository';

export interface ReconciliationRun {
  /** `false` when another API process held the lock: this one did nothing and every count is 0. */
  readonly ran: boolean;
  /** Quiet active sessions looked at. */
  readonly checked: number;
  /** Of those, the ones whose status moved (the lost ones included). */
  readonly changed: number;
  /** Failed because the orchestrator does not know them (`lost`) or never confirmed their spawn (`spawn_unconfirmed`). */
  readonly lost: number;
  /** Left for the next run because the orchestrator could not answer. */
  readonly skipped: number;
}

const NOT_RUN: ReconciliationRun = { ran: false, checked: 0, changed: 0, lost: 0, skipped: 0 };

type SessionOutcome = 'unchanged' | 'changed' | 'lost' | { skipped: OrchestratorError };

/** Quiet sessions read per query; a run checks all of them, page after page. */
const QUIET_SESSIONS_PAGE = 500;

/**
 * Upper bound on one run's hold on the lock. Status calls have their own
 * timeouts and the client's breaker fails fast once the orchestrator is down,
 * so a run over the sessions an orchestrator can hold ends well within it; past
 * it, the lock is released and another process may start.
 */
const MAX_RUN_MS = 10 * 60 * 1000;

/**
 * Catches what callbacks missed. Every interval, one API process at a time (a
 * PostgreSQL advisory lock decides which) asks the orchestrator about each
 * active session nobody has heard of for `staleAfterMs` and applies the answer
 * through the same forward-only state machine as callbacks:
 * - the orchestrator's status, with its exit code, error and times;
 * - `404`: `failed` with error `lost`;
 * - no answer (down, timeout, open breaker, unexpected answer): left as it is
 *   for the next run;
 * - still `spawning` with no orchestrator session id: `failed` with error
 *   `spawn_unconfirmed`. If the orchestrator did start it after all, its
 *   callbacks are still accepted and stored as late events; the status stays.
 * So no session stays spawning, pending or running without the orchestrator
 * saying it is.
 */
@Injectable()
export class ReconciliationService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReconciliationService.name);
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  /** Whether the last run could not reach the orchestrator: an outage is logged when it starts and ends, not every run. */
  private orchestratorUnavailable = false;

  constructor(
    private readonly config: ApiConfig,
    private readonly sessions: OrchestratorSessionRepository,
    private readonly sync: SessionSyncService,
    private readonly repository: ReconciliationRepository,
    private readonly metrics: ApiMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.scheduleNextRun();
  }

  /** Runs before the database module closes its connections, and waits for a run in progress. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /** One reconciliation run, unless another process is doing one right now. */
  async runOnce(): Promise<ReconciliationRun> {
    let run: ReconciliationRun;
    try {
      run = (await this.repository.whileHoldingRunLock(() => this.reconcile(), { maxHoldMs: MAX_RUN_MS })) ?? NOT_RUN;
    } catch (error) {
      this.metrics.reconciliationFailed();
      throw error;
    }
    this.metrics.reconciliationRan(run);
    return run;
  }

  /** Each run is scheduled when the previous one ends, so runs never overlap. */
  private scheduleNextRun(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.runAndLog().finally(() => {
        this.inFlight = undefined;
        this.scheduleNextRun();
      });
    }, this.config.reconciliation.intervalMs);
    // The loop alone must not keep a process alive that is otherwise done.
    this.timer.unref();
  }

  private async runAndLog(): Promise<void> {
    try {
      const run = await this.runOnce();
      if (run.changed > 0) {
        this.logger.log(`reconciled ${run.checked} quiet sessions: ${run.changed} changed, ${run.lost} of them lost`);
      }
    } catch (error) {
      this.logger.error(`reconciliation run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }

  private async reconcile(): Promise<ReconciliationRun> {
    const quietSince = new Date(Date.now() - this.config.reconciliation.staleAfterMs);
    const counts = { checked: 0, changed: 0, lost: 0, skipped: 0 };
    let failure: OrchestratorError | undefined;
    let answered = false;
    for await (const session of this.sessions.quietSessions(quietSince, QUIET_SESSIONS_PAGE)) {
      const outcome = await this.reconcileSession(session);
      counts.checked += 1;
      if (typeof outcome === 'object') {
        counts.skipped += 1;
        failure ??= outcome.skipped;
        continue;
      }
      if (session.orchestratorSessionId !== null) answered = true;
      if (outcome !== 'unchanged') counts.changed += 1;
      if (outcome === 'lost') counts.lost += 1;
    }
    this.noteOrchestratorAvailability(failure, answered, counts.skipped);
    return { ran: true, ...counts };
  }

  private async reconcileSession(session: TrackedSession): Promise<SessionOutcome> {
    if (session.orchestratorSessionId === null) {
      // A dispatch may still be retrying this spawn; only once it cannot be is the silence final.
      const dispatchMayBeRetrying = Date.now() - session.createdAt.getTime() < this.config.orchestrator.spawnDeadlineMs;
      if (dispatchMayBeRetrying) return 'unchanged';
      return (await this.sessions.failUnconfirmedSpawn(session.id, new Date())) ? 'lost' : 'unchanged';
    }
    try {
      const now = await this.sync.refresh(session);
      if (now.status === session.status) return 'unchanged';
      return now.status === 'failed' && now.error === LOST_ERROR ? 'lost' : 'changed';
    } catch (error) {
      // `not_found` never gets here: refresh turns it into `lost`.
      if (error instanceof OrchestratorError) return { skipped: error };
      throw error;
    }
  }

  private noteOrchestratorAvailability(failure: OrchestratorError | undefined, answered: boolean, skipped: number): void {
    if (failure !== undefined && !this.orchestratorUnavailable) {
      this.orchestratorUnavailable = true;
      this.logger.warn(
        `orchestrator did not answer status checks (${failure.failure}: ${failure.message}); ${skipped} sessions left for the next run`,
      );
    } else if (failure === undefined && answered && this.orchestratorUnavailable) {
      this.orchestratorUnavailable = false;
      this.logger.log('orchestrator answers status checks again');
    }
  }
}
