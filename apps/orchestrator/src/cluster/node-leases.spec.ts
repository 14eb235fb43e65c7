import type { CallbackDelivery } from '../callbacks/callback-delivery';
import type { SessionRunner } from '../agents/session-runner';
import { OrchestratorConfig } from '../config/orchestrator-config';
import type { SessionStore } from '../store/session-store';
import { ClusterSigner } from './cluster-signer';
import { NodeLeases } from './node-leases';

const LEASE_MS = 3_000;
const TICK_MS = 1_000;

describe('NodeLeases', () => {
  let leases: NodeLeases;
  /** When (performance.now()) the node asked the store for the expired nodes. */
  let claims: number[];
  let claimExpiredNodes: jest.Mock;
  /** Set while the store is out of reach: a renewal waits for it, as in the Redis client's queue or the PostgreSQL store's retries. */
  let outage: Promise<void> | undefined;

  beforeEach(() => {
    jest.useFakeTimers();
    claims = [];
    outage = undefined;
    claimExpiredNodes = jest.fn(async () => {
      claims.push(performance.now());
      return [];
    });
    const store = { renewNode: async () => outage, claimExpiredNodes } as Partial<SessionStore> as SessionStore;
    const runner = { activeSessions: 0, runningSessionIds: () => [] } as Partial<SessionRunner> as SessionRunner;
    leases = new NodeLeases(
      OrchestratorConfig.fromEnvironment({ NODE_ID: 'node-a', NODE_LOST_AFTER_MS: String(LEASE_MS) }),
      runner,
      {} as CallbackDelivery,
      store,
      new ClusterSigner('test-cluster-key'),
    );
  });

  afterEach(() => {
    leases.onModuleDestroy();
    jest.useRealTimers();
  });

  it('judges the other nodes only once it has held its own lease for NODE_LOST_AFTER_MS, and only with that lease fresh', async () => {
    const joined = performance.now();
    await leases.join();

    await jest.advanceTimersByTimeAsync(LEASE_MS - TICK_MS);
    expect(claims).toEqual([]);
    await jest.advanceTimersByTimeAsync(TICK_MS);
    expect(claims).toEqual([joined + LEASE_MS]);
    // Its claim counts only while its own lease has all but one tick of it left.
    expect(claimExpiredNodes).toHaveBeenCalledWith('node-a', LEASE_MS - TICK_MS);
  });

  it('after its renewals were held up longer than a live node may go without one, waits a whole lease again', async () => {
    await leases.join();
    await jest.advanceTimersByTimeAsync(LEASE_MS);
    const before = claims.length;

    let storeBack!: () => void;
    outage = new Promise((resolve) => (storeBack = resolve));
    await jest.advanceTimersByTimeAsync(LEASE_MS + TICK_MS / 2);
    outage = undefined;
    storeBack();
    const back = performance.now();
    await jest.advanceTimersByTimeAsync(LEASE_MS + TICK_MS);

    const after = claims.slice(before);
    expect(after).toHaveLength(1);
    expect(after[0]! - back).toBeGreaterThanOrEqual(LEASE_MS);
  });
});
