import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, databaseName, dropDatabase, uniqueDatabaseName } from '../test/support/database';
import { callNode, ORCHESTRATOR_ENTRY, startCluster, type Cluster } from '../test/support/orchestrator-cluster';
import { withOutputOf } from '../test/support/service-process';
import type { DatabaseServer } from './support';

export const QUEUE_SESSIONS = 600;
export const QUEUE_NODES = 3;
export const QUEUE_CAPACITY = 20;
export const AGENT_SECONDS = 1;
/** Concurrent HTTP clients sending the spawns, taking the nodes in turn. */
const SPAWN_CLIENTS = 8;
const REDIS_URL = 'redis://127.0.0.1:6379';
const DRAIN_TIMEOUT_MS = 180_000;
/** Drained before the measured run, one per slot of the cluster. */
export const WARM_UP_SESSIONS = QUEUE_NODES * QUEUE_CAPACITY;

export interface QueueStoreResult {
  readonly store: 'PostgreSQL' | 'Redis';
  /** From just before the first spawn to the last session's `ended_at`. */
  readonly drainMs: number;
  readonly idealMs: number;
  /** Slot freed (a session's `ended_at` on a node) → the `running` event of the node's next queued session. */
  readonly slotToStartP50Ms: number;
  readonly slotToStartP95Ms: number;
  readonly queuedStarts: number;
  readonly completed: number;
  /** Seconds spent sending the spawns. */
  readonly spawnSeconds: number;
}

export interface SessionRecord {
  id: string;
  status: string;
  node?: string;
  created_at: string;
  started_at?: string;
  ended_at?: string;
}

/** A loopback callback receiver answering 202 that keeps the time of each session's `running` event (the store's timestamp). */
export class RunningEvents {
  readonly runningAt = new Map<string, number>();
  terminal = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<RunningEvents> {
    const server = createServer();
    const receiver = new RunningEvents(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          type: string;
          status?: string;
          session_id: string;
          timestamp: string;
        };
        if (event.type === 'status' && event.status === 'running') receiver.runningAt.set(event.session_id, Date.parse(event.timestamp));
        else if (event.type === 'status' && event.status !== undefined && event.status !== 'pending') receiver.terminal += 1;
        response.writeHead(202).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/callbacks`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/**
 * On one node, its k-th agent start (k ≥ capacity, in start order) needed k − capacity + 1
 * of its sessions to have ended: the slot it took was freed by the (k − capacity)-th end in
 * end order. For each session created before that end (it waited in the queue for the slot),
 * the delay is its `running` event's timestamp minus that end.
 */
export function slotToStartDelays(sessions: readonly SessionRecord[], runningAt: ReadonlyMap<string, number>, capacity: number): number[] {
  const delays: number[] = [];
  const byNode = new Map<string, SessionRecord[]>();
  for (const session of sessions) {
    if (session.node === undefined) continue;
    byNode.set(session.node, [...(byNode.get(session.node) ?? []), session]);
  }
  for (const onNode of byNode.values()) {
    const starts = onNode.filter((session) => runningAt.has(session.id)).sort((a, b) => runningAt.get(a.id)! - runningAt.get(b.id)!);
    const ends = onNode.map((session) => Date.parse(session.ended_at!)).sort((a, b) => a - b);
    for (let k = capacity; k < starts.length; k++) {
      const freedAt = ends[k - capacity]!;
      const session = starts[k]!;
      if (Date.parse(session.created_at) < freedAt) delays.push(runningAt.get(session.id)! - freedAt);
    }
  }
  return delays;
}

/** Runs `task` for the indexes 0 … count − 1, `clients` at a time. */
export async function inParallel(count: number, clients: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let index = next++; index < count; index = next++) await task(index);
    }),
  );
}

/** `count` spawns sent by SPAWN_CLIENTS concurrent clients taking the cluster's nodes in turn; resolves to the sessions' ids. */
export async function spawnSessions(cluster: Cluster, count: number, body: () => unknown): Promise<string[]> {
  const ids: string[] = [];
  await inParallel(count, SPAWN_CLIENTS, async (index) => {
    const answer = await callNode(cluster.nodes[index % cluster.nodes.length]!, 'POST', '/orchestrator/sessions/spawn', body(), {
      'idempotency-key': randomUUID(),
    });
    if (answer.status !== 201) throw new Error(`spawn answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    ids.push(answer.body.session_id as string);
  });
  return ids;
}

/** Every session the cluster knows, paged through its list endpoint. */
export async function allSessions(cluster: Cluster): Promise<SessionRecord[]> {
  const sessions: SessionRecord[] = [];
  for (let cursor: string | null = null; ;) {
    const route: string = `/orchestrator/sessions?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = await callNode(cluster.nodes[0]!, 'GET', route);
    for (const session of answer.body.sessions as (SessionRecord & { session_id: string })[])
      sessions.push({ ...session, id: session.session_id });
    cursor = answer.body.next_cursor as string | null;
    if (cursor === null) return sessions;
  }
}

/** Spawns `count` sessions of the bench's agent whose callbacks go to `receiver`. */
async function spawnAll(cluster: Cluster, receiver: RunningEvents, count: number): Promise<void> {
  await spawnSessions(cluster, count, () => ({
    task: { id: `task-${randomUUID()}`, title: 'queue bench' },
    context: { schema_version: 1 },
    callback_url: receiver.url,
    callback_token: 'queue-bench-token',
  }));
}

async function waitForEnds(store: string, receiver: RunningEvents, count: number): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (receiver.terminal < count || receiver.runningAt.size < count) {
    if (Date.now() > deadline)
      throw new Error(
        `${store}: after ${DRAIN_TIMEOUT_MS} ms only ${receiver.terminal} sessions ended (${receiver.runningAt.size} started)`,
      );
    await sleep(50);
  }
}

async function drain(
  store: QueueStoreResult['store'],
  env: Record<string, string | undefined>,
  log: (line: string) => void,
): Promise<QueueStoreResult> {
  const cluster = await startCluster({
    nodes: QUEUE_NODES,
    capacity: QUEUE_CAPACITY,
    env: { AGENT_COMMAND: `sleep ${AGENT_SECONDS}`, LOG_LEVEL: 'warn', MAX_QUEUED_SESSIONS: String(QUEUE_SESSIONS), ...env },
  });
  const warmUp = await RunningEvents.start();
  const receiver = await RunningEvents.start();
  try {
    // One session per slot first: the first sessions of a fresh cluster pay for cold caches and the store's first plans.
    await spawnAll(cluster, warmUp, WARM_UP_SESSIONS);
    await waitForEnds(store, warmUp, WARM_UP_SESSIONS);
    const startedAt = Date.now();
    const clock = performance.now();
    await spawnAll(cluster, receiver, QUEUE_SESSIONS);
    const spawnSeconds = (performance.now() - clock) / 1000;
    log(`  ${store}: ${QUEUE_SESSIONS} spawned in ${spawnSeconds.toFixed(1)} s`);
    await waitForEnds(store, receiver, QUEUE_SESSIONS);
    const sessions = (await allSessions(cluster)).filter((session) => receiver.runningAt.has(session.id));
    const completed = sessions.filter((session) => session.status === 'completed').length;
    const lastEnd = Math.max(...sessions.map((session) => Date.parse(session.ended_at ?? '')));
    const delays = slotToStartDelays(sessions, receiver.runningAt, QUEUE_CAPACITY);
    return {
      store,
      drainMs: lastEnd - startedAt,
      idealMs: (QUEUE_SESSIONS / (QUEUE_NODES * QUEUE_CAPACITY)) * AGENT_SECONDS * 1000,
      slotToStartP50Ms: percentile(delays, 0.5),
      slotToStartP95Ms: percentile(delays, 0.95),
      queuedStarts: delays.length,
      completed,
      spawnSeconds,
    };
  } catch (error) {
    throw withOutputOf(cluster.nodes, error, 4_000);
  } finally {
    await cluster.stop();
    await Promise.all([warmUp.close(), receiver.close()]);
  }
}

/**
 * 600 one-second agents through a cluster of 3 nodes × 20 slots, on each queue store:
 * PostgreSQL (a fresh database on the benchmark server) and Redis (its own key prefix,
 * deleted by the cluster's stop).
 */
export async function benchQueue(server: DatabaseServer, log: (line: string) => void): Promise<QueueStoreResult[]> {
  if (!existsSync(ORCHESTRATOR_ENTRY)) throw new Error(`${ORCHESTRATOR_ENTRY} is missing: build the orchestrator first`);
  const results: QueueStoreResult[] = [];
  const url = await createDatabase(server.url, uniqueDatabaseName('mosaic_bench_queue'));
  try {
    results.push(await drain('PostgreSQL', { QUEUE_URL: undefined, ORCHESTRATOR_DATABASE_URL: url }, log));
  } finally {
    await dropDatabase(server.url, databaseName(url));
  }
  results.push(await drain('Redis', { QUEUE_URL: REDIS_URL, ORCHESTRATOR_DATABASE_URL: undefined }, log));
  return results;
}
