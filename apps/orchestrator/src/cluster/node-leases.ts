import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { CallbackDelivery } from '../callbacks/callback-delivery';
import { SessionEventLog } from '../callbacks/session-event-log';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { SessionRunner } from '../agents/session-runner';
import { SESSION_STORE, type SessionStore, type StoredSession } from '../store/session-store';

/** The error of a session whose node stopped renewing its lease (contract v2, section 2, Nodes). */
export const NODE_LOST_ERROR = 'node_lost';
/** Leases are renewed this often at most, so a node is declared lost at most this long after NODE_LOST_AFTER_MS. */
const MAX_TICK_MS = 5_000;

/**
 * This node's lease in the store, and the watch over everyone else's. Every tick the
 * node renews its lease, ends the sessions of nodes whose lease expired (the store
 * hands each expired node to one sweeper only), and stops any agent of its own whose
 * session another node has ended meanwhile (this node was declared lost while it
 * was only slow): a session never runs on in the dark.
 */
@Injectable()
export class NodeLeases implements OnModuleDestroy {
  private readonly logger = new Logger(NodeLeases.name);
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly runner: SessionRunner,
    private readonly delivery: CallbackDelivery,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
  ) {}

  get tickMs(): number {
    return Math.min(Math.floor(this.config.nodeLostAfterMs / 3), MAX_TICK_MS);
  }

  /** Takes the lease (renewing the one an earlier life of this node held, if it has not expired) and keeps it. */
  async join(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
  }

  /** Stops renewing; with `release`, gives the lease up at once, otherwise it runs out after NODE_LOST_AFTER_MS. */
  async leave(release: boolean): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    if (release) await this.store.leaveNode(this.config.nodeId);
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private tick(): Promise<void> {
    this.ticking ??= this.sweep()
      .catch((error: Error) => this.logger.warn(`lease tick failed: ${error.message}`))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async sweep(): Promise<void> {
    await this.renew();
    for (const node of await this.store.claimExpiredNodes()) {
      if (node === this.config.nodeId) continue;
      const sessions = await this.store.runningOn(node);
      this.logger.warn(`node ${node} stopped renewing its lease: ending its ${sessions.length} running session(s) ${NODE_LOST_ERROR}`);
      for (const session of sessions) await this.endLost(session);
    }
    await this.stopAgentsEndedElsewhere();
  }

  private renew(): Promise<void> {
    const node = { id: this.config.nodeId, url: this.config.nodeUrl, capacity: this.config.maxConcurrentSessions, activeSessions: this.runner.activeSessions };
    return this.store.renewNode(node, this.config.nodeLostAfterMs);
  }

  /** What the lost node had not delivered goes out first, with its original ids, then the end. */
  private async endLost(session: StoredSession): Promise<void> {
    for (const event of await this.store.unacknowledgedEvents(session.id)) this.delivery.enqueue(session.callback, event);
    const events = new SessionEventLog(session, this.store, this.delivery, this.logger);
    await events.end({ status: 'failed', error: NODE_LOST_ERROR }, ['running']);
  }

  private async stopAgentsEndedElsewhere(): Promise<void> {
    for (const id of this.runner.runningSessionIds()) {
      const session = await this.store.get(id);
      if (session && session.status !== 'running' && session.status !== 'pending') {
        this.logger.warn(`session ${id} was ended by another node (${session.error ?? session.status}): stopping its agent`);
        await this.runner.end(id, 'kill');
      }
    }
  }
}
