import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  agentSchema,
  isTerminalStatus,
  type KillResponse,
  type ListQuery,
  type ListResponse,
  type SessionStatus,
  type SessionStatusResponse,
  type SpawnRequest,
  type SpawnResponse,
} from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';
import { requestTracing } from '@mosaic/observability';
import { randomUUID } from 'node:crypto';
import { CallbackDelivery } from '../callbacks/callback-delivery';
import { SessionEventLog } from '../callbacks/session-event-log';
import { NodeForwarder, type StopKind } from '../cluster/node-forwarder';
import { SessionQueue } from '../cluster/session-queue';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import {
  IdempotencyKeyReusedError,
  InvalidCursorError,
  QueueFullError,
  SESSION_STORE,
  type SessionStore,
  type StoredSession,
} from '../store/session-store';
import { fingerprintOf } from './fingerprint';
import { AgentAdapters } from '../agents/adapters/agent-adapters';
import { SessionRunner } from '../agents/session-runner';
import { isAllowedRepositoryUrl } from '../workspaces/workspace';
import { toStatusResponse } from './session.presenter';

export interface SpawnResult {
  value: SpawnResponse;
  /** True when the value is the session an earlier request with this Idempotency-Key created. */
  replayed: boolean;
}

/** The sweep for ended sessions runs at least this often: one is forgotten at most this long after its retention. */
const MAX_FORGET_INTERVAL_MS = 60_000;

/**
 * The gateway's API over the cluster's store: any node answers for any session. A
 * spawn is stored `pending` and queued; the queue hands it to a node with room
 * (SessionRunner). A kill or cancel of a pending session ends it in the store and
 * takes it off the queue; one of a running session reaches the node that runs it.
 */
@Injectable()
export class SessionsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SessionsService.name);
  private shuttingDown = false;
  private forgetTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly delivery: CallbackDelivery,
    private readonly metrics: OrchestratorMetrics,
    private readonly runner: SessionRunner,
    private readonly queue: SessionQueue,
    private readonly forwarder: NodeForwarder,
    private readonly adapters: AgentAdapters,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
  ) {}

  /** Without this, every session ever spawned stays in the store for good. */
  onApplicationBootstrap(): void {
    const retentionMs = this.config.sessionRetentionMs;
    const forget = () => void this.forgetEndedBefore(new Date(Date.now() - retentionMs));
    this.forgetTimer = setInterval(forget, Math.min(retentionMs, MAX_FORGET_INTERVAL_MS));
    this.forgetTimer.unref();
  }

  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
    clearInterval(this.forgetTimer);
  }

  async spawn(request: SpawnRequest, idempotencyKey: string | undefined): Promise<SpawnResult> {
    try {
      const result = await this.spawnOnce(request, idempotencyKey);
      this.metrics.spawnAnswered(result.replayed ? 'replayed' : 'started');
      return result;
    } catch (error) {
      this.metrics.spawnAnswered(error instanceof AppError ? error.code : 'internal_error');
      throw error;
    }
  }

  async status(id: string): Promise<SessionStatusResponse> {
    const [status] = await this.present([await this.find(id)]);
    return status;
  }

  /**
   * Kill or cancel; answers once the session is terminal and, if it was running, its
   * whole process tree is gone. `forwardedBy` is set when another node passed the
   * request on: it is then answered here, never passed on again.
   */
  async stop(id: string, kind: StopKind, graceMs = this.config.cancelGraceMs, forwardedBy?: string): Promise<KillResponse> {
    let session = await this.find(id);
    if (session.status === 'pending') {
      const ended = await this.endPending(session, kind);
      if (ended) return { session_id: id, status: ended.status };
      session = await this.find(id);
    }
    if (isTerminalStatus(session.status)) return { session_id: id, status: session.status };
    if (this.runner.has(id) || session.node === this.config.nodeId) {
      await this.runner.end(id, kind, graceMs);
      return { session_id: id, status: (await this.find(id)).status };
    }
    if (forwardedBy !== undefined) {
      throw new AppError(
        'node_unreachable',
        `session ${id} runs on node ${session.node ?? 'unknown'}, not on ${this.config.nodeId} (passed on by ${forwardedBy})`,
      );
    }
    const node = (await this.store.liveNodes()).find((candidate) => candidate.id === session.node);
    if (!node) {
      throw new AppError(
        'node_unreachable',
        `node ${session.node ?? 'unknown'}, which runs session ${id}, has no live lease; it is declared lost within NODE_LOST_AFTER_MS`,
      );
    }
    return this.forwarder.stop(node, id, kind, graceMs);
  }

  async list(query: ListQuery): Promise<ListResponse> {
    if (query.idempotency_key !== undefined) {
      const session = await this.store.withIdempotencyKey(query.idempotency_key);
      const matches = session !== undefined && (query.status === undefined || session.status === query.status);
      return { sessions: matches ? await this.present([session]) : [], next_cursor: null };
    }
    try {
      const page = await this.store.list(query);
      return { sessions: await this.present(page.sessions), next_cursor: page.nextCursor };
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new AppError('bad_request', `cursor: ${error.message}`);
      throw error;
    }
  }

  countByStatus(): Promise<Record<SessionStatus, number>> {
    return this.store.countByStatus();
  }

  private async spawnOnce(request: SpawnRequest, idempotencyKey: string | undefined): Promise<SpawnResult> {
    const origins = this.config.callbackOrigins;
    if (!origins.allows(request.callback_url)) {
      throw new AppError(
        'bad_request',
        `callback_url: its origin is not one the callbacks may go to (ALLOWED_CALLBACK_ORIGINS: ${origins.describe()})`,
      );
    }
    if (this.shuttingDown) throw new AppError('shutting_down', 'this orchestrator node is shutting down');
    // A kind this node cannot run is refused now (400 agent_unavailable), not failed later in the queue.
    this.adapters.resolve(request.task.agent ?? agentSchema.parse({}));
    const repository = request.task.repository;
    if (repository !== undefined && !isAllowedRepositoryUrl(repository.url, this.config.allowedRepositoryUrls)) {
      throw new AppError(
        'bad_request',
        `task.repository.url: not a repository this orchestrator may use (ALLOWED_REPOSITORY_URLS: ${this.config.allowedRepositoryUrls?.join(', ') ?? 'any file://, https:// or ssh:// URL'})`,
      );
    }
    const id = randomUUID();
    const priority = request.priority ?? 'normal';
    let created: { session: StoredSession; created: boolean };
    try {
      created = await this.store.create(
        {
          id,
          priority,
          callback: {
            url: request.callback_url,
            token: request.callback_token,
            signingSecret: request.callback_signing_secret,
            origin: requestTracing.currentOrigin(),
          },
          // The callback token stays with the orchestrator: the agent reports on stdout, never to the API.
          taskJson: JSON.stringify({ session_id: id, task: request.task, context: request.context }),
          ...(idempotencyKey !== undefined && { idempotency: { key: idempotencyKey, fingerprint: fingerprintOf(request) } }),
        },
        this.config.maxQueuedSessions,
      );
    } catch (error) {
      if (error instanceof IdempotencyKeyReusedError) throw new AppError('idempotency_key_reused', error.message);
      if (error instanceof QueueFullError) throw new AppError('queue_full', `${error.message} (MAX_QUEUED_SESSIONS); retry later`);
      throw error;
    }
    const { session } = created;
    // A replay queues a pending session again: the first request may have stored it and failed before queueing it. The job id makes it a no-op otherwise.
    if (session.status === 'pending') await this.enqueue(session);
    if (created.created)
      this.logger.log({
        msg: 'session status changed',
        session_id: session.id,
        from: null,
        to: 'pending',
        task_id: request.task.id,
        priority,
      });
    return {
      value: { session_id: session.id, status: 'pending', created_at: session.createdAt.toISOString() },
      replayed: !created.created,
    };
  }

  private async enqueue(session: StoredSession): Promise<void> {
    try {
      await this.queue.add(session.id, session.priority);
    } catch (error) {
      this.logger.error(`session ${session.id}: could not be queued: ${(error as Error).message}`);
      throw new AppError('queue_unavailable', 'the queue could not be reached; retry with the same Idempotency-Key');
    }
  }

  /** Ends a session that has not started; undefined when a node claimed it first. */
  private async endPending(session: StoredSession, kind: StopKind): Promise<StoredSession | undefined> {
    const events = new SessionEventLog(session, this.store, this.delivery, this.logger);
    const ended = await events.end({ status: kind === 'kill' ? 'killed' : 'cancelled' }, ['pending']);
    if (!ended) return undefined;
    await this.queue
      .remove(session.id)
      .catch((error: Error) =>
        this.logger.warn(`session ${session.id}: could not be taken off the queue (${error.message}); its claim will fail`),
      );
    await events.settled();
    return ended;
  }

  private async find(id: string): Promise<StoredSession> {
    const session = await this.store.get(id);
    if (!session) throw new AppError('not_found', `no session with id ${id}`);
    return session;
  }

  private async present(sessions: StoredSession[]): Promise<SessionStatusResponse[]> {
    const pending = sessions.filter((session) => session.status === 'pending').map((session) => session.id);
    const positions = pending.length > 0 ? await this.store.queuePositions(pending) : new Map<string, number>();
    return sessions.map((session) => toStatusResponse(session, positions.get(session.id)));
  }

  /** Status and kill answer 404 for a forgotten session, list leaves it out, and its Idempotency-Key may start a new one. */
  private async forgetEndedBefore(cutoff: Date): Promise<void> {
    try {
      const forgotten = await this.store.forgetEndedBefore(cutoff);
      if (forgotten > 0) this.logger.debug(`forgot ${forgotten} session(s) ended before ${cutoff.toISOString()}`);
    } catch (error) {
      this.logger.warn(`could not forget ended sessions: ${(error as Error).message}`);
    }
  }
}
