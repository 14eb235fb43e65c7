import { Inject, Injectable, Logger } from '@nestjs/common';
import { isTerminalStatus } from '@mosaic/orchestrator-contract';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CallbackDelivery } from '../callbacks/callback-delivery';
import { SessionEventLog } from '../callbacks/session-event-log';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import { SESSION_STORE, type SessionStore, type StoredSession } from '../store/session-store';
import { killProcessGroup } from './process-group';
import { SessionSupervisor, type EndReason } from './session-supervisor';
import { createSessionWorkdir, TASK_FILE_NAME } from './workdir';

/** The agent finds its task file through this variable. */
export const TASK_FILE_ENV = 'MOSAIC_TASK_FILE';

/**
 * The agents this node runs. A session comes here from the queue; it runs only if
 * this node wins its claim in the store (pending → running), so neither a queue
 * job handed out twice nor a kill that got there first can start a second agent
 * or an unwanted one.
 */
@Injectable()
export class SessionRunner {
  private readonly logger = new Logger(SessionRunner.name);
  /** Registered before the claim, so that a kill arriving while the agent starts finds it. */
  private readonly local = new Map<string, SessionSupervisor>();

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly delivery: CallbackDelivery,
    private readonly metrics: OrchestratorMetrics,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
  ) {}

  /** Sessions of this node not yet terminal: a slot is free again from the moment its session ends. */
  get activeSessions(): number {
    return [...this.local.values()].filter((supervisor) => !isTerminalStatus(supervisor.status)).length;
  }

  has(sessionId: string): boolean {
    return this.local.has(sessionId);
  }

  localSessionIds(): string[] {
    return [...this.local.keys()];
  }

  /** Runs the session's agent to its end, if this node wins the session; the queue's worker calls it. */
  async run(sessionId: string): Promise<void> {
    const supervisor = this.supervisorFor({ id: sessionId });
    this.local.set(sessionId, supervisor);
    try {
      const session = await this.store.claim(sessionId, this.config.nodeId);
      if (!session) return;
      await this.runClaimed(session, supervisor);
    } finally {
      this.local.delete(sessionId);
    }
  }

  /** Ends a session this node runs; resolves once its whole process tree is gone. */
  async end(sessionId: string, reason: EndReason, graceMs?: number): Promise<void> {
    await this.local.get(sessionId)?.end(reason, graceMs);
  }

  async endAll(reason: EndReason): Promise<void> {
    await Promise.all([...this.local.values()].map((supervisor) => supervisor.end(reason)));
  }

  /** Last resort when the process exits without a graceful shutdown: no agent may outlive the orchestrator. */
  killAllAgentsNow(): void {
    for (const supervisor of this.local.values()) {
      if (supervisor.pid !== undefined) killProcessGroup(supervisor.pid);
    }
  }

  private supervisorFor(session: Pick<StoredSession, 'id'>): SessionSupervisor {
    const workdir = join(this.config.sessionWorkdirRoot, session.id);
    return new SessionSupervisor(session.id, {
      cwd: workdir,
      command: this.config.agentCommand,
      env: { ...this.config.agentEnv, MOSAIC_SESSION_ID: session.id, [TASK_FILE_ENV]: join(workdir, TASK_FILE_NAME) },
      user: this.config.agentUser,
      node: this.config.nodeId,
      timeoutMs: this.config.sessionTimeoutMs,
      logLinesPerSecond: this.config.logLinesPerSecond,
      delivery: this.delivery,
      metrics: this.metrics,
      logger: this.logger,
    });
  }

  private async runClaimed(session: StoredSession, supervisor: SessionSupervisor): Promise<void> {
    const events = new SessionEventLog(session, this.store, this.delivery, this.logger);
    const workdir = join(this.config.sessionWorkdirRoot, session.id);
    try {
      // The callback token stays with the orchestrator: the agent reports on stdout, never to the API.
      await createSessionWorkdir(workdir, session.taskJson, this.config.agentUser);
      await supervisor.start(events);
      this.logStatusChange(session, 'pending', 'running');
      await supervisor.whenEnded();
      this.logStatusChange(session, 'running', supervisor.status);
    } catch (error) {
      this.logger.error(`session ${session.id}: the agent could not be started: ${(error as Error).message}`);
      await events.end({ status: 'failed', error: 'the agent could not be started' });
    } finally {
      await events.settled();
      await rm(workdir, { recursive: true, force: true }).catch((error: Error) => this.logger.warn(`could not remove ${workdir}: ${error.message}`));
    }
  }

  /** With the spawn's request id: the line belongs to that request's story, though the queue ran it later. */
  private logStatusChange(session: StoredSession, from: string, to: string): void {
    this.logger.log({ msg: 'session status changed', session_id: session.id, from, to, node: this.config.nodeId, request_id: session.callback.origin.requestId });
  }
}
