import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { CallbackDelivery } from '../callbacks/callback-delivery';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { SessionRunner } from '../agents/session-runner';
import { SESSION_STORE, type SessionStore } from '../store/session-store';
import { NodeLeases } from './node-leases';
import { SessionQueue } from './session-queue';

/**
 * This process as a node of the cluster. Before its HTTP server answers it renews its
 * lease and adopts the agents an earlier life of it left running (`adopt`), so that a
 * kill it answers finds them; once the server answers (other nodes forward kills to
 * it) it takes sessions from the queue, in the slots the adopted agents leave free.
 * On shutdown (a deploy) it takes no more, lets the requests in flight finish, stores
 * and sends what its agents produced so far, and exits: the agents run on, under their
 * supervisors, until the next life of this node adopts them. It keeps its lease while
 * they run, so that if it never comes back another node ends their sessions node_lost.
 */
@Injectable()
export class ClusterNode implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterNode.name);
  private adopted: Promise<void>[] = [];

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly runner: SessionRunner,
    private readonly leases: NodeLeases,
    private readonly queue: SessionQueue,
    private readonly delivery: CallbackDelivery,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
  ) {}

  async adopt(): Promise<void> {
    await this.leases.join();
    this.adopted = await this.runner.adoptAll();
    if (this.adopted.length > 0)
      this.logger.log(`adopted ${this.adopted.length} running agent(s) of an earlier life of node ${this.config.nodeId}`);
  }

  join(): void {
    const capacity = this.config.maxConcurrentSessions;
    let adoptedRunning = this.adopted.length;
    for (const ended of this.adopted) {
      // Each adopted agent's end frees a queue slot whenever it comes.
      void ended.then(() => this.queue.setConcurrency(capacity - --adoptedRunning));
    }
    this.queue.startWorker(capacity - adoptedRunning, (sessionId) => this.runner.run(sessionId));
    this.logger.log(`node ${this.config.nodeId} joined the cluster (capacity ${capacity}, reachable at ${this.config.nodeUrl})`);
  }

  /** Runs while the HTTP server still answers: nothing new is taken from the queue from here on. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.queue.stopTaking();
  }

  /** Runs once the HTTP server has closed, so a kill in flight has had its answer. */
  async onApplicationShutdown(): Promise<void> {
    const started = Date.now();
    const running = this.runner.activeSessions;
    if (running > 0)
      this.logger.log(`shutting down: ${running} agent(s) keep running, to be adopted when node ${this.config.nodeId} is back`);
    await this.runner.detachAll();
    await this.delivery.drainAndStop(Math.max(0, this.config.shutdownGraceMs - (Date.now() - started)));
    await this.leases.leave(running === 0).catch((error: Error) => this.logger.warn(`could not give up the lease: ${error.message}`));
    await this.queue.close();
    await this.store.close();
  }
}
