import path from 'node:path';
import { eventually } from './eventually';
import { request, type HttpAnswer } from './http';
import { liveDescendants } from './process-table';
import { deleteRedisKeys } from './redis';
import { startService, stopLeavingNoProcesses, uniqueQueuePrefix, type ServiceProcess } from './service-process';

export const ORCHESTRATOR_ENTRY = path.join(__dirname, '../../apps/orchestrator/dist/main.js');
export const CLUSTER_API_KEY = 'e2e-cluster-orchestrator-key';

export interface Cluster {
  nodes: ServiceProcess[];
  prefix: string;
  /** Stops every node that still runs, leaving no process behind, and deletes the cluster's keys. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes: number;
  capacity: number;
  /** The queue store's variables (QUEUE_URL or none) and anything else every node gets. */
  env: Record<string, string | undefined>;
}

/** N orchestrator nodes on one queue store, under one fresh QUEUE_PREFIX: one orchestrator. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const prefix = uniqueQueuePrefix();
  const nodes: ServiceProcess[] = [];
  const start = (index: number) =>
    startService({
      name: `node-${index}`,
      entry: ORCHESTRATOR_ENTRY,
      env: {
        ORCHESTRATOR_API_KEY: CLUSTER_API_KEY,
        MAX_CONCURRENT_SESSIONS: String(options.capacity),
        NODE_ID: `node-${index}`,
        QUEUE_PREFIX: prefix,
        ...options.env,
      },
    });
  try {
    for (let index = 0; index < options.nodes; index++) nodes.push(await start(index));
  } catch (error) {
    await Promise.all(nodes.map((node) => stopLeavingNoProcesses(node)));
    throw error;
  }
  return {
    nodes,
    prefix,
    stop: async () => {
      await Promise.all(nodes.map((node) => stopLeavingNoProcesses(node, 15_000)));
      const redis = options.env.QUEUE_URL;
      if (redis !== undefined) await deleteRedisKeys(redis, prefix);
    },
  };
}

/** SIGKILL to a node and every process it started (its agents lead process groups of their own): a machine gone at once. */
export function killNodeAndAgents(node: ServiceProcess): number[] {
  const pids = [node.pid, ...liveDescendants(node.pid).map((process) => process.pid)];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids;
}

export function callNode(
  node: ServiceProcess,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return request(method, `${node.url}${route}`, { token: CLUSTER_API_KEY, body, headers });
}

/**
 * Polls a session's status on `node` until it is one of `statuses`. Every 50 ms: each poll is a request the node
 * under test answers, and tests wait for several sessions at once.
 */
export function waitForStatus(
  node: ServiceProcess,
  id: string,
  statuses: readonly string[],
  timeoutMs = 30_000,
): Promise<HttpAnswer['body']> {
  return eventually(
    async () => {
      const answer = await callNode(node, 'GET', `/orchestrator/sessions/${id}/status`);
      if (!statuses.includes(answer.body?.status))
        throw new Error(`session ${id} is ${JSON.stringify(answer.body)}, not ${statuses.join('/')}`);
      return answer.body;
    },
    timeoutMs,
    50,
  );
}
