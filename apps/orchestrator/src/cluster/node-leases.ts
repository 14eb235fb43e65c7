import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { CallbackDelivery } from '../callbacks/callback-delivery';
import { SessionEventLog } from '../callbacks/session-event-log';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { SessionRunner } from '../agents/session-runner';
import { ClusterSigner } from './cluster-signer';
import { SESSION_STORE, type SessionStore, type StoredSession } from '../store/session-store';

/** The error of a session whose node stopped renewing its lease (docs/contract.md §2, Nodes; v2). */
export const NODE_LOST_ERROR = 'node_lost';
/** Leases are renewed this often at most, so a node is declared lost at most this long after NODE_LOST_AFTER_MS. */
const MAX_TICK_MS = 5_000;

/**
 * This node's lease in the store, and the watch over everyone else's. Every tick the
 * node renews its lease, ends the sessions of nodes whose lease expired (the store
 * hands each expired node to one sweeper only), and stops any agent of its own whose
 * session another node has ended meanwhile (this node was declared lost while it
 * was only slow): a session never runs on in the dark.
 *
 * When the store was out of reach (restarted, failed over) no node could renew: every
 * lease may have run out meanwhile, and the first node back must not declare the
 * others lost before they had a lease's time to renew. So a node judges the others'
 * leases only once it has held its own, renewed on time, for a whole NODE_LOST_AFTER_MS,
 * and its claim counts only if it reaches the store while that lease is fresh (one
 * held up by an outage on its way claims nothing).
 */
@Injectable()
export class NodeLeases implements OnModuleDestroy {
  private readonly logger = new Logger(NodeLeases.name);
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  /** performance.now() of this node's last renewal, and of the first of its renewals on time since. */
  private renewedAt?: number;
  private steadySince = 0;

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly runner: SessionRunner,
    private readonly delivery: CallbackDelivery,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    private readonly signer: ClusterSigner,
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
    if (performance.now() - this.steadySince >= this.config.nodeLostAfterMs) await this.endExpiredNodes();
    await this.stopAgentsEndedElsewhere();
  }

  private async endExpiredNodes(): Promise<void> {
    // Renewed a moment ago, this node's lease has nearly all of it left; less, and the claim reached the store late.
    for (const node of await this.store.claimExpiredNodes(this.config.nodeId, this.config.nodeLostAfterMs - this.tickMs)) {
      if (node === this.config.nodeId) continue;
      const sessions = await this.store.runningOn(node);
      this.logger.warn(`node ${node} stopped renewing its lease: ending its ${sessions.length} running session(s) ${NODE_LOST_ERROR}`);
      for (const session of sessions) await this.endLost(session);
    }
  }

  /**
   * A node renewing on time has at least NODE_LOST_AFTER_MS - tickMs of its lease left at any moment: a gap in this
   * node's own renewals longer than that (the store out of reach, or this process stalled) may have let live nodes'
   * leases run out just the same, so it starts counting its steady time anew.
   */
  private async renew(): Promise<void> {
    const node = {
      id: this.config.nodeId,
      url: this.config.nodeUrl,
      capacity: this.config.maxConcurrentSessions,
      activeSessions: this.runner.activeSessions,
      signature: this.signer.signNode(this.config.nodeId, this.config.nodeUrl),
    };
    await this.store.renewNode(node, this.config.nodeLostAfterMs);
    const now = performance.now();
    if (this.renewedAt === undefined || now - this.renewedAt > this.config.nodeLostAfterMs - this.tickMs) this.steadySince = now;
    this.renewedAt = now;
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
