import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { CallbackDelivery } from '../callbacks/callback-delivery';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { SessionRunner } from '../agents/session-runner';
import { SESSION_STORE, type SessionStore } from '../store/session-store';
import { NodeLeases } from './node-leases';
import { SessionQueue } from './session-queue';

/**
 * This process as a node of the cluster: it joins once its HTTP server answers
 * (other nodes forward kills to it) and only then takes sessions from the queue;
 * on shutdown it takes no more, ends its agents, sends their last callbacks and
 * gives up its lease, so the others do not wait NODE_LOST_AFTER_MS for it.
 */
@Injectable()
export class ClusterNode implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterNode.name);

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly runner: SessionRunner,
    private readonly leases: NodeLeases,
    private readonly queue: SessionQueue,
    private readonly delivery: CallbackDelivery,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
  ) {}

  async join(): Promise<void> {
    await this.leases.join();
    this.queue.startWorker(this.config.maxConcurrentSessions, (sessionId) => this.runner.run(sessionId));
    this.logger.log(`node ${this.config.nodeId} joined the cluster (capacity ${this.config.maxConcurrentSessions}, reachable at ${this.config.nodeUrl})`);
  }

  /** Runs while the HTTP server still answers, so kills forwarded meanwhile are still served. */
  async beforeApplicationShutdown(): Promise<void> {
    const started = Date.now();
    await this.queue.stopTaking();
    if (this.runner.activeSessions > 0) this.logger.log(`shutting down: ending ${this.runner.activeSessions} running agent(s)`);
    await this.runner.endAll('shutdown');
    await this.delivery.drainAndStop(Math.max(0, this.config.shutdownGraceMs - (Date.now() - started)));
    await this.leases.leave().catch((error: Error) => this.logger.warn(`could not give up the lease: ${error.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
    await this.store.close();
  }
}
