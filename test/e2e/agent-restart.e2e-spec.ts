import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CallbackReceiver, type CallbackEndpoint } from '../support/callback-receiver';
import { eventually } from '../support/eventually';
import { callNode, CLUSTER_API_KEY, ORCHESTRATOR_ENTRY, waitForStatus } from '../support/orchestrator-cluster';
import { isAlive, liveDescendants, liveProcesses, waitForNoProcesses, type ProcessInfo } from '../support/process-table';
import { deleteRedisKeys, queueStoresUnderTest } from '../support/redis';
import {
  freePort,
  killProcessTrees,
  startService,
  stopLeavingNoProcesses,
  uniqueQueuePrefix,
  withServiceOutput,
  type ServiceProcess,
} from '../support/service-process';

const SESSIONS = 5;
const SHORT_OUTAGE_MS = 2_000;
const LONG_OUTAGE_MS = 20_000;
const RETRY_EVERY_MS = 200;
const STEPS_BEFORE_THE_STOP = 5;
const TERMINAL = ['completed', 'failed', 'killed', 'cancelled'];
const AGENT_STARTED = /^sample agent working on task/;
const CHILDREN_STARTED = /^started child processes (\d+)/;

/** One orchestrator node that dies and comes back: every life has its port, NODE_ID, QUEUE_PREFIX and SESSION_SPOOL_ROOT. */
interface RestartableNode {
  readonly id: string;
  /** The current life. */
  service: ServiceProcess;
  /** Every life so far, the current one last. */
  readonly lives: ServiceProcess[];
  restart(): Promise<void>;
}

function spawnBody(endpoint: CallbackEndpoint, sampleAgent: Record<string, unknown>) {
  return {
    task: { id: `task-${randomUUID()}`, title: 'An agent-restart e2e task', metadata: { sample_agent: sampleAgent } },
    context: { schema_version: 1 },
    callback_url: endpoint.url,
    callback_token: 'agent-restart-callback-token',
  };
}

async function spawn(node: RestartableNode, body: unknown): Promise<string> {
  const answer = await callNode(node.service, 'POST', '/orchestrator/sessions/spawn', body, { 'idempotency-key': randomUUID() });
  expect(answer).toMatchObject({ status: 201, body: { status: 'pending' } });
  return answer.body.session_id as string;
}

const eventsOf = (endpoint: CallbackEndpoint, sessionId: string) =>
  endpoint.accepted<CallbackEvent>().filter((event) => event.session_id === sessionId);
const hasTerminalEvent = (endpoint: CallbackEndpoint, sessionId: string, status: string) =>
  eventsOf(endpoint, sessionId).some((event) => event.type === 'status' && event.status === status);

/** The session a process belongs to: the supervisor passes MOSAIC_SESSION_ID to the agent, and the agent's children inherit it. */
function sessionOf(pid: number): string | undefined {
  try {
    return /(?:^|\0)MOSAIC_SESSION_ID=([^\0]*)/.exec(readFileSync(`/proc/${pid}/environ`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Live processes of these sessions' trees, wherever they are in the process table (an orphaned tree is no node's descendant). */
function processesOfSessions(sessionIds: readonly string[]): ProcessInfo[] {
  const wanted = new Set(sessionIds);
  return liveProcesses().filter((info) => wanted.has(sessionOf(info.pid) ?? ''));
}

/** `tree` split by session; every process of it must belong to one of `sessionIds`. */
function treesBySession(tree: readonly ProcessInfo[], sessionIds: readonly string[]): Map<string, ProcessInfo[]> {
  const trees = new Map(sessionIds.map((id) => [id, [] as ProcessInfo[]]));
  const strangers: ProcessInfo[] = [];
  for (const info of tree) {
    const owner = trees.get(sessionOf(info.pid) ?? '');
    if (owner) owner.push(info);
    else strangers.push(info);
  }
  expect(strangers).toEqual([]);
  return trees;
}

/**
 * Waits until every session's agent runs with its child and grandchild (the child starts
 * the grandchild once it is up), so that a tree captured afterwards is the whole tree.
 */
async function waitForWholeTrees(endpoint: CallbackEndpoint, sessionIds: readonly string[], timeoutMs = 20_000): Promise<void> {
  const childOf = (id: string) => {
    const started = eventsOf(endpoint, id)
      .map((event) => (event.type === 'log' ? CHILDREN_STARTED.exec(event.data.line) : null))
      .find((match) => match !== null);
    return started && Number(started[1]);
  };
  await eventually(() => {
    const children = sessionIds.map(childOf);
    const live = liveProcesses();
    if (!children.every((child) => child !== undefined && live.some((info) => info.ppid === child))) {
      throw new Error(`the agents' children or grandchildren have not all started (children: ${JSON.stringify(children)})`);
    }
  }, timeoutMs);
}

/**
 * Watches the process table for a process of these sessions that is not in `known`:
 * an agent started again (or anything it started) instead of the old one adopted.
 */
function watchForNewcomers(sessionIds: readonly string[], known: readonly ProcessInfo[]): { stop(): Promise<string[]> } {
  const wanted = new Set(sessionIds);
  const knownPids = new Set(known.map((info) => info.pid));
  const classified = new Map<number, string | undefined>();
  const newcomers: string[] = [];
  let watching = true;
  const look = () => {
    const live = liveProcesses();
    const livePids = new Set(live.map((info) => info.pid));
    for (const pid of classified.keys()) if (!livePids.has(pid)) classified.delete(pid);
    for (const info of live) {
      if (knownPids.has(info.pid) || classified.has(info.pid)) continue;
      const session = sessionOf(info.pid);
      classified.set(info.pid, session);
      if (session !== undefined && wanted.has(session)) newcomers.push(`${info.pid} (${info.command}) of session ${session}`);
    }
  };
  const watcher = (async () => {
    while (watching) {
      look();
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      watching = false;
      await watcher;
      look();
      return newcomers;
    },
  };
}

/**
 * What a session's callbacks add up to, each event taken once however often it was
 * redelivered (a redelivery reuses its event_id). The lists name what is wrong: all
 * empty when every event arrived once, the same each time, under one event_id.
 */
function account(endpoint: CallbackEndpoint, sessionId: string, steps: number) {
  const received = eventsOf(endpoint, sessionId);
  const byId = new Map<string, CallbackEvent>();
  const redeliveredDifferently: string[] = [];
  for (const event of received) {
    const first = byId.get(event.event_id);
    if (first === undefined) byId.set(event.event_id, event);
    else if (JSON.stringify([first.sequence, first.type, first.data]) !== JSON.stringify([event.sequence, event.type, event.data]))
      redeliveredDifferently.push(event.event_id);
  }
  const distinct = [...byId.values()].sort((a, b) => a.sequence - b.sequence);
  const sequences = distinct.map((event) => event.sequence);
  const highest = Math.max(0, ...sequences);
  const progress = distinct.filter((event) => event.type === 'progress').map((event) => String(event.data.message));
  const expectedSteps = Array.from({ length: steps }, (_, index) => `step ${index + 1} of ${steps}`);
  const last = distinct.at(-1);
  return {
    session_id: sessionId,
    missing_sequences: Array.from({ length: highest }, (_, index) => index + 1).filter((sequence) => !sequences.includes(sequence)),
    sequences_under_two_event_ids: sequences.filter((sequence, index) => sequences.indexOf(sequence) !== index),
    redelivered_differently: redeliveredDifferently,
    missing_steps: expectedSteps.filter((step) => !progress.includes(step)),
    repeated_steps: progress.filter((step, index) => progress.indexOf(step) !== index),
    steps_out_of_order: progress.join() === expectedSteps.filter((step) => progress.includes(step)).join() ? [] : progress,
    agent_starts: distinct.filter((event) => event.type === 'log' && AGENT_STARTED.test(String(event.data.line))).length,
    terminal_events: distinct.filter((event) => event.type === 'status' && TERMINAL.includes(String(event.status))).length,
    last: last && { type: last.type, status: last.status, exit_code: last.type === 'status' ? last.data.exit_code : undefined },
  };
}

const completedOnce = (sessionId: string) => ({
  session_id: sessionId,
  missing_sequences: [],
  sequences_under_two_event_ids: [],
  redelivered_differently: [],
  missing_steps: [],
  repeated_steps: [],
  steps_out_of_order: [],
  agent_starts: 1,
  terminal_events: 1,
  last: { type: 'status', status: 'completed', exit_code: 0 },
});

const describeProcesses = (processes: readonly ProcessInfo[]) => processes.map((info) => `${info.pid} (${info.command})`);

beforeAll(() => {
  if (!existsSync(ORCHESTRATOR_ENTRY)) throw new Error(`${ORCHESTRATOR_ENTRY} is missing: run \`pnpm build\` first`);
});

describe.each(queueStoresUnderTest())('agents outliving an orchestrator restart, on $name', ({ env }) => {
  let receiver: CallbackReceiver;
  let prefix: string;
  let nodes: RestartableNode[] = [];
  let spawned: string[] = [];

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
  });
  beforeEach(() => {
    prefix = uniqueQueuePrefix();
  });
  afterEach(async () => {
    await Promise.all(nodes.flatMap((node) => node.lives).map((life) => stopLeavingNoProcesses(life, 15_000)));
    // A tree whose node died and was never adopted (the test failed first) is no live node's descendant.
    await killProcessTrees(processesOfSessions(spawned));
    if (env.QUEUE_URL !== undefined) await deleteRedisKeys(env.QUEUE_URL, prefix);
    nodes = [];
    spawned = [];
  });
  afterAll(() => receiver.close());

  // Every life of every node: a restarted node's first life printed what it left for the next.
  const clusterTest = (name: string, body: () => Promise<void>, timeoutMs: number) =>
    it(
      name,
      withServiceOutput(() => nodes.flatMap((node) => node.lives), body, 6_000),
      timeoutMs,
    );

  /** A node of this test's cluster; NODE_ID is unique to the test, so no other test's spools are ever its own. */
  async function startNode(name: string, capacity: number): Promise<RestartableNode> {
    const id = `${name}-${prefix}`;
    const port = await freePort();
    const start = () =>
      startService({
        name: id,
        entry: ORCHESTRATOR_ENTRY,
        port,
        env: {
          ORCHESTRATOR_API_KEY: CLUSTER_API_KEY,
          NODE_ID: id,
          QUEUE_PREFIX: prefix,
          MAX_CONCURRENT_SESSIONS: String(capacity),
          ...env,
        },
      });
    const first = await start();
    const node: RestartableNode = {
      id,
      service: first,
      lives: [first],
      restart: async () => {
        const life = await start();
        node.lives.push(life);
        node.service = life;
      },
    };
    nodes.push(node);
    return node;
  }

  /**
   * Five chatty agents (each with a child and a grandchild) on one node; the node is
   * stopped with `signal`, down for `outageMs`, and started again as the same node.
   */
  async function restartWhileAgentsRun(options: {
    signal: 'SIGKILL' | 'SIGTERM';
    outageMs: number;
    steps: number;
    stepMs: number;
  }): Promise<void> {
    const node = await startNode('restarted', SESSIONS);
    const endpoint = receiver.endpoint();
    const agent = { steps: options.steps, step_ms: options.stepMs, children: 1 };
    const ids = await Promise.all(Array.from({ length: SESSIONS }, () => spawn(node, spawnBody(endpoint, agent))));
    spawned.push(...ids);
    await Promise.all(ids.map((id) => waitForStatus(node.service, id, ['running'])));
    await waitForWholeTrees(endpoint, ids);
    // Stopped a few steps in, so that the store has a position past the start to read on from.
    await endpoint.waitFor(() =>
      ids.every((id) => eventsOf(endpoint, id).filter((event) => event.type === 'progress').length >= STEPS_BEFORE_THE_STOP),
    );

    // Supervisors, agents, children and grandchildren: all descendants while the first life lives.
    const tree = liveDescendants(node.service.pid);
    const trees = treesBySession(tree, ids);
    // A supervisor is the node's child, its agent the supervisor's.
    const supervisors = tree.filter((info) => info.ppid === node.service.pid);
    const agents = tree.filter((info) => supervisors.some((supervisor) => supervisor.pid === info.ppid));
    expect(
      ids.map((id) => [
        trees.get(id)!.filter((info) => supervisors.includes(info)).length,
        trees.get(id)!.filter((info) => agents.includes(info)).length,
      ]),
    ).toEqual(ids.map(() => [1, 1]));
    const newcomers = watchForNewcomers(ids, tree);

    const firstLife = node.service;
    firstLife.kill(options.signal);
    const exit = await firstLife.exited;
    if (options.signal === 'SIGTERM') {
      expect(exit).toEqual({ code: 0, signal: null });
      expect(firstLife.output()).toContain(`shutting down: ${SESSIONS} agent(s) keep running, to be adopted when node ${node.id} is back`);
    }
    expect(describeProcesses(tree.filter((info) => !isAlive(info.pid)))).toEqual([]);

    await sleep(options.outageMs);
    await node.restart();
    // The restart falls while they run: the agents are adopted, not merely their ends read.
    expect(describeProcesses(agents.filter((info) => !isAlive(info.pid)))).toEqual([]);
    expect(node.service.output()).toContain(`adopted ${SESSIONS} running agent(s) of an earlier life of node ${node.id}`);

    const ended = await Promise.all(ids.map((id) => waitForStatus(node.service, id, TERMINAL, 60_000)));
    expect(ended.map((session) => [session.status, session.exit_code])).toEqual(ids.map(() => ['completed', 0]));
    await endpoint.waitFor(() => ids.every((id) => hasTerminalEvent(endpoint, id, 'completed')), 30_000);
    expect(await newcomers.stop()).toEqual([]);
    expect(ids.map((id) => account(endpoint, id, options.steps))).toEqual(ids.map(completedOnce));
    // Nobody kills them: the agents ended, and their supervisors exit once the restarted node has read the ends.
    await waitForNoProcesses(
      tree.map((info) => info.pid),
      15_000,
    );
    expect(describeProcesses(processesOfSessions(ids))).toEqual([]);
  }

  clusterTest(
    'SIGKILL of the orchestrator process alone mid-run, back 2 s later as the same node: 5 chatty agents adopted, each started once, completed with exit 0, every event and step delivered once, no process left',
    () => restartWhileAgentsRun({ signal: 'SIGKILL', outageMs: SHORT_OUTAGE_MS, steps: 50, stepMs: 200 }),
    120_000,
  );

  clusterTest(
    'SIGTERM (a deploy) mid-run: the process exits 0 while the agents run on, back 2 s later as the same node: each agent started once, completed with exit 0, every event and step delivered once, no process left',
    () => restartWhileAgentsRun({ signal: 'SIGTERM', outageMs: SHORT_OUTAGE_MS, steps: 50, stepMs: 200 }),
    120_000,
  );

  clusterTest(
    'a restart taking 20 s while the agents keep printing: their spools hold what could not be sent, and every event and step still arrives once',
    () => restartWhileAgentsRun({ signal: 'SIGKILL', outageMs: LONG_OUTAGE_MS, steps: 150, stepMs: 200 }),
    150_000,
  );

  clusterTest(
    'a kill and a cancel sent to another node while the node that runs the sessions is down take effect once it is back, answering when the whole tree is gone',
    async () => {
      const owner = await startNode('node-0', 2);
      const endpoint = receiver.endpoint();
      const long = { steps: 1, duration_ms: 120_000, children: 1 };
      const [killed, cancelled] = await Promise.all([spawn(owner, spawnBody(endpoint, long)), spawn(owner, spawnBody(endpoint, long))]);
      spawned.push(killed, cancelled);
      const running = await Promise.all([killed, cancelled].map((id) => waitForStatus(owner.service, id, ['running'])));
      expect(running.map((session) => session.node)).toEqual([owner.id, owner.id]);
      await waitForWholeTrees(endpoint, [killed, cancelled]);
      // Started only now, so that both sessions are the owner's.
      const other = await startNode('node-1', 2);

      const trees = treesBySession(liveDescendants(owner.service.pid), [killed, cancelled]);
      owner.service.kill('SIGKILL');
      await owner.service.exited;

      const killing = stopThroughOutage(other, killed, 'kill', undefined, trees.get(killed)!);
      const cancelling = stopThroughOutage(other, cancelled, 'cancel', { grace_ms: 5_000 }, trees.get(cancelled)!);
      await sleep(SHORT_OUTAGE_MS);
      await owner.restart();
      const [kill, cancel] = await Promise.all([killing, cancelling]);

      expect(kill).toEqual({
        answer: { status: 200, body: { session_id: killed, status: 'killed' } },
        aliveAtAnswer: [],
        refused: expect.any(Number),
      });
      expect(cancel).toEqual({
        answer: { status: 200, body: { session_id: cancelled, status: 'cancelled' } },
        aliveAtAnswer: [],
        refused: expect.any(Number),
      });
      // Both were sent while the owner was down, not only after it was back.
      expect([kill.refused, cancel.refused].every((refused) => refused > 0)).toBe(true);
      expect(owner.service.output()).toContain(`adopted 2 running agent(s) of an earlier life of node ${owner.id}`);
      await endpoint.waitFor(() => hasTerminalEvent(endpoint, killed, 'killed') && hasTerminalEvent(endpoint, cancelled, 'cancelled'));
    },
    90_000,
  );
});

/**
 * POSTs a kill or cancel to `node` until it is no longer refused because the session's
 * node is unreachable, and notes which processes of `tree` are alive as the answer arrives.
 */
async function stopThroughOutage(
  node: RestartableNode,
  sessionId: string,
  kind: 'kill' | 'cancel',
  body: unknown,
  tree: readonly ProcessInfo[],
  timeoutMs = 45_000,
) {
  const route = `/orchestrator/sessions/${sessionId}/${kind}`;
  let refused = 0;
  const answer = await eventually(
    async () => {
      const sent = await callNode(node.service, 'POST', route, body);
      if (sent.status === 503 && sent.body?.error?.code === 'node_unreachable') {
        refused++;
        throw new Error(`${route} is still refused: ${JSON.stringify(sent.body)}`);
      }
      return sent;
    },
    timeoutMs,
    RETRY_EVERY_MS,
  );
  // The tree as captured, and anything of the session started since.
  const captured = new Set(tree.map((info) => info.pid));
  const alive = liveProcesses().filter((info) => captured.has(info.pid) || sessionOf(info.pid) === sessionId);
  return { answer: { status: answer.status, body: answer.body }, aliveAtAnswer: describeProcesses(alive), refused };
}
