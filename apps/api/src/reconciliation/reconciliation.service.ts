import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ApiConfig } from '../config/api-config';
import { ApiMetrics } from '../metrics/api-metrics';
import { OrchestratorError } from '../orchestrator-gateway/orchestrator.errors';
import { type Actor, LOST_ERROR, SPAWN_UNCONFIRMED_ERROR, type TrackedSession } from '../sessions/session';
import { SessionSyncService } from '../sessions/session-sync.service';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import { ReconciliationRepository } from './reconciliation.repository';

/** The actor the event log names for a kill of a spawn the orchestrator never acknowledged. */
export const RECONCILIATION_ACTOR: Actor = { name: 'reconciliation', keyId: null };

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
 * - still `spawning` with no orchestrator session id, once its dispatch has
 *   given up: the orchestrator is asked for the session the spawn's
 *   Idempotency-Key started. None: `failed` with error `spawn_unconfirmed`.
 *   One: its id is recorded and it is killed: `killed`, error
 *   `spawn_unconfirmed`, so that no agent runs on for a task that can be
 *   dispatched again.
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
    if (session.orchestratorSessionId === null) return this.settleUnconfirmedSpawn(session);
    // Found by an earlier run for an unconfirmed spawn, and its kill did not get through then.
    if (session.error === SPAWN_UNCONFIRMED_ERROR) return this.killUnconfirmedSpawn(session);
    return unlessUnanswered(async () => {
      const now = await this.sync.refresh(session);
      return outcomeOf(session, now);
    });
  }

  /**
   * A spawn the API never heard answered. Once its dispatch cannot be retrying
   * any more, the orchestrator is asked for the session that spawn started.
   * None: the session fails `spawn_unconfirmed`. One: its agent runs for a
   * session the dispatch gave up on, and the task could be dispatched again
   * beside it; so the session is recorded as that one, marked
   * `spawn_unconfirmed`, and killed.
   */
  private async settleUnconfirmedSpawn(session: TrackedSession): Promise<SessionOutcome> {
    const dispatchMayBeRetrying = Date.now() - session.createdAt.getTime() < this.config.orchestrator.spawnDeadlineMs;
    if (dispatchMayBeRetrying) return 'unchanged';
    return unlessUnanswered(async () => {
      const started = await this.sync.findSpawned(session);
      if (started === undefined) return (await this.sessions.failUnconfirmedSpawn(session.id, new Date())) ? 'lost' : 'unchanged';
      const marked = await this.sessions.recordUnconfirmedSpawnStarted(session.id, started.session_id);
      // Its spawn answer or a callback came first: it is an ordinary session now.
      if (marked === undefined) return 'unchanged';
      return this.killUnconfirmedSpawn(marked);
    });
  }

  /**
   * Ends `killed` (its error stays `spawn_unconfirmed`) once the orchestrator
   * says the agent is gone; the event log names `reconciliation` as who killed it.
   */
  private killUnconfirmedSpawn(session: TrackedSession): Promise<SessionOutcome> {
    return unlessUnanswered(async () => outcomeOf(session, await this.sync.kill(session, RECONCILIATION_ACTOR)));
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

/** What the orchestrator could not answer is left for the next run. */
async function unlessUnanswered(ask: () => Promise<SessionOutcome>): Promise<SessionOutcome> {
  try {
    return await ask();
  } catch (error) {
    // `not_found` never gets here: refresh and kill turn it into `lost`.
    if (error instanceof OrchestratorError) return { skipped: error };
    throw error;
  }
}

function outcomeOf(before: TrackedSession, now: TrackedSession): SessionOutcome {
  if (now.status === before.status) return 'unchanged';
  return now.status === 'failed' && now.error === LOST_ERROR ? 'lost' : 'changed';
}
