import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type {
  CancelResponse,
  KillResponse,
  ListQuery,
  ListResponse,
  SessionStatus,
  SessionStatusResponse,
  SpawnRequest,
  SpawnResponse,
} from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';
import { requestTracing } from '@mosaic/observability';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CallbackDelivery } from '../callbacks/callback-delivery';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import { fingerprintOf, IdempotencyKeyReusedError, IdempotencyStore, type IdempotentResult } from './idempotency-store';
import { killProcessGroup } from './process-group';
import { Session } from './session';
import { InvalidCursorError, SessionRegistry } from './session-registry';
import { SessionSupervisor } from './session-supervisor';
import { createSessionWorkdir } from './workdir';

/** The agent finds its task file through this variable. */
export const TASK_FILE_ENV = 'MOSAIC_TASK_FILE';
/** The sweep for ended sessions runs at least this often: one is forgotten at most this long after its retention. */
const MAX_FORGET_INTERVAL_MS = 60_000;

@Injectable()
export class SessionsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SessionsService.name);
  private readonly registry = new SessionRegistry();
  private readonly idempotency = new IdempotencyStore<SpawnResponse>();
  /** Supervisors of sessions that are not terminal yet. */
  private readonly supervisors = new Map<string, SessionSupervisor>();
  /** Spawns past the capacity check whose agent is still being started. */
  private starting = 0;
  private shuttingDown = false;
  private forgetTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly delivery: CallbackDelivery,
    private readonly metrics: OrchestratorMetrics,
  ) {}

  /** Without this, every session ever spawned stays in memory for the life of the process. */
  onApplicationBootstrap(): void {
    const retentionMs = this.config.sessionRetentionMs;
    const forget = () => this.forgetEndedBefore(new Date(Date.now() - retentionMs));
    this.forgetTimer = setInterval(forget, Math.min(retentionMs, MAX_FORGET_INTERVAL_MS));
    this.forgetTimer.unref();
  }

  async spawn(request: SpawnRequest, idempotencyKey: string | undefined): Promise<IdempotentResult<SpawnResponse>> {
    try {
      const result = await this.spawnOnce(request, idempotencyKey);
      this.metrics.spawnAnswered(result.replayed ? 'replayed' : 'started');
      return result;
    } catch (error) {
      this.metrics.spawnAnswered(error instanceof AppError ? error.code : 'internal_error');
      throw error;
    }
  }

  private async spawnOnce(request: SpawnRequest, idempotencyKey: string | undefined): Promise<IdempotentResult<SpawnResponse>> {
    const origins = this.config.callbackOrigins;
    if (!origins.allows(request.callback_url)) {
      throw new AppError('bad_request', `callback_url: its origin is not one the callbacks may go to (ALLOWED_CALLBACK_ORIGINS: ${origins.describe()})`);
    }
    if (idempotencyKey === undefined) return { value: await this.start(request), replayed: false };
    try {
      return await this.idempotency.execute(idempotencyKey, fingerprintOf(request), () => this.start(request, idempotencyKey));
    } catch (error) {
      if (error instanceof IdempotencyKeyReusedError) throw new AppError('idempotency_key_reused', error.message);
      throw error;
    }
  }

  status(id: string): SessionStatusResponse {
    return this.find(id).toStatusResponse();
  }

  /** Answers once the agent's whole process group is gone. */
  async kill(id: string): Promise<KillResponse> {
    const session = this.find(id);
    await this.supervisors.get(id)?.end('kill');
    return { session_id: session.id, status: session.status };
  }

  /** Answers once the agent's whole process group is gone, at the latest `graceMs` after the SIGTERM. */
  async cancel(id: string, graceMs = this.config.cancelGraceMs): Promise<CancelResponse> {
    const session = this.find(id);
    const supervisor = this.supervisors.get(id);
    // Unlike a kill, a cancel may hold its request for the whole grace: the log shows what it waits for.
    if (supervisor) this.logger.log({ msg: 'session cancel requested', session_id: id, grace_ms: graceMs });
    await supervisor?.cancel(graceMs);
    return { session_id: session.id, status: session.status };
  }

  list(query: ListQuery): ListResponse {
    if (query.idempotency_key !== undefined) {
      const session = this.registry.withIdempotencyKey(query.idempotency_key);
      const matches = session !== undefined && (query.status === undefined || session.status === query.status);
      return { sessions: matches ? [session.toStatusResponse()] : [], next_cursor: null };
    }
    try {
      const page = this.registry.list(query);
      return { sessions: page.sessions.map((session) => session.toStatusResponse()), next_cursor: page.nextCursor };
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new AppError('bad_request', error.message);
      throw error;
    }
  }

  activeSessions(): number {
    return this.supervisors.size;
  }

  countByStatus(): Record<SessionStatus, number> {
    return this.registry.countByStatus();
  }

  /** Last resort when the process exits without a graceful shutdown: no agent may outlive the orchestrator. */
  killAllAgentsNow(): void {
    for (const supervisor of this.supervisors.values()) {
      if (supervisor.pid !== undefined) killProcessGroup(supervisor.pid);
    }
  }

  /**
   * Runs while the HTTP server still answers: spawns are refused from here on, running
   * agents are killed, and their final status callbacks get until SHUTDOWN_GRACE_MS to go out.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.forgetTimer);
    const running = [...this.supervisors.values()];
    if (running.length > 0) this.logger.log(`shutting down: killing ${running.length} running agent(s)`);
    const started = Date.now();
    await Promise.all(running.map((supervisor) => supervisor.end('shutdown')));
    await this.delivery.drainAndStop(Math.max(0, this.config.shutdownGraceMs - (Date.now() - started)));
  }

  private find(id: string): Session {
    const session = this.registry.get(id);
    if (!session) throw new AppError('not_found', `no session with id ${id}`);
    return session;
  }

  /** Status and kill answer 404 for a forgotten session, list leaves it out, and its Idempotency-Key may start a new one. */
  private forgetEndedBefore(cutoff: Date): void {
    const forgotten = this.registry.forgetEndedBefore(cutoff);
    for (const session of forgotten) {
      if (session.idempotencyKey !== undefined) this.idempotency.forget(session.idempotencyKey);
    }
    if (forgotten.length > 0) this.logger.debug(`forgot ${forgotten.length} session(s) ended before ${cutoff.toISOString()}`);
  }

  private async start(request: SpawnRequest, idempotencyKey?: string): Promise<SpawnResponse> {
    if (this.shuttingDown) {
      throw new AppError('shutting_down', 'the orchestrator is shutting down');
    }
    if (this.supervisors.size + this.starting >= this.config.maxConcurrentSessions) {
      throw new AppError('at_capacity', `at capacity: ${this.config.maxConcurrentSessions} sessions running`);
    }
    this.starting++;
    const session = new Session({
      id: randomUUID(),
      callback: { url: request.callback_url, token: request.callback_token, signingSecret: request.callback_signing_secret, origin: requestTracing.currentOrigin() },
      idempotencyKey,
    });
    const workdir = join(this.config.sessionWorkdirRoot, session.id);
    try {
      // The callback token stays with the orchestrator: the agent reports on stdout, never to the API.
      const task = JSON.stringify({ session_id: session.id, task: request.task, context: request.context });
      const taskFile = await createSessionWorkdir(workdir, task, this.config.agentUser);
      const supervisor = new SessionSupervisor(session, {
        command: this.config.agentCommand,
        cwd: workdir,
        env: { ...this.config.agentEnv, [TASK_FILE_ENV]: taskFile, MOSAIC_SESSION_ID: session.id },
        user: this.config.agentUser,
        timeoutMs: this.config.sessionTimeoutMs,
        logLinesPerSecond: this.config.logLinesPerSecond,
        delivery: this.delivery,
        metrics: this.metrics,
        logger: this.logger,
      });
      await supervisor.start();
      this.registry.add(session);
      session.startedAt = session.createdAt;
      this.supervisors.set(session.id, supervisor);
      void supervisor.whenEnded().then(() => this.onEnded(session, workdir));
    } catch (error) {
      await rm(workdir, { recursive: true, force: true });
      this.logger.error(`spawn failed: the agent could not be started: ${(error as Error).message}`);
      throw new AppError('internal_error', 'the agent could not be started');
    } finally {
      this.starting--;
    }
    this.logStatusChange(session, 'pending', { task_id: request.task.id });
    // The agent process exists by now, so the answer is always `running`; `pending` is never observable here.
    return { session_id: session.id, status: 'running', created_at: session.createdAt.toISOString() };
  }

  /** One line per status change: a session starts `running` and ends once, so these two calls are all of them. */
  private logStatusChange(session: Session, from: SessionStatus, details: Record<string, string | number>): void {
    this.logger.log({ msg: 'session status changed', session_id: session.id, from, to: session.status, ...details });
  }

  private async onEnded(session: Session, workdir: string): Promise<void> {
    this.supervisors.delete(session.id);
    this.logStatusChange(session, 'running', {
      ...(session.exitCode === undefined ? {} : { exit_code: session.exitCode }),
      ...(session.error === undefined ? {} : { error: session.error }),
    });
    await rm(workdir, { recursive: true, force: true }).catch((error: Error) => this.logger.warn(`could not remove ${workdir}: ${error.message}`));
  }
}
