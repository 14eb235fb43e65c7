import { setTimeout as sleep } from 'node:timers/promises';
import { countBy } from '../counting';
import {
  ORCHESTRATOR_EVENT,
  call,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  orchestratorSessions,
  query,
  sessionRows,
  settledAccount,
  waitForAllTerminal,
  waitUntil,
  type SystemHarness,
} from '../harness';
import type { Figures } from '../report';

/** The queue store a scenario takes away from under a cluster, and gives back on the same port and data. */
export interface OutageStore {
  name: string;
  /** The nodes' store variables. */
  env: Record<string, string | undefined>;
  /** How the store goes away, for the report. */
  fault: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const NODES = 3;
const CAPACITY = 3;
const SESSIONS = 30;
const STEPS = 12;
/**
 * NODE_LOST_AFTER_MS, and how long the store stays down: longer, so that every lease runs out while the store is away
 * and the scenario proves that nodes which could not renew, through no fault of their own, are not declared lost by
 * the first of them to reach the store again. A shorter lease would make the test judge the machine's load: on a busy
 * machine a node's lease tick can be late by more than a second, and 3 s is what scenario 12 relies on.
 */
const NODE_LOST_AFTER_MS = 3_000;
const DOWN_MS = 3_500;

interface Probe {
  status: number;
  ms: number;
}

/**
 * 16 and 17: three nodes drain a queue of 30 sessions through the API while their queue store is stopped for a few
 * seconds and started again on the same port and data. Every session must complete, its agent started once,
 * every event stored once and in order, no node declared lost.
 */
export async function storeOutageMidLoad(h: SystemHarness, report: (values: Figures) => void, store: OutageStore): Promise<void> {
  const databaseUrl = await h.database();
  const nodes = await h.cluster({
    nodes: NODES,
    capacity: CAPACITY,
    env: { ...store.env, NODE_LOST_AFTER_MS: String(NODE_LOST_AFTER_MS) },
  });
  const api = await h.api({
    databaseUrl,
    orchestratorUrl: nodes.map((node) => node.service.url).join(','),
    // Reconciliation stays out of it: every event must come from the orchestrator itself, as callbacks.
    env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000', RECONCILE_STALE_AFTER_MS: '60000' },
  });
  // About five seconds each: with 9 slots, the 30 run in four waves, the outage falls in the first.
  const agent = { sample_agent: { steps: STEPS, step_ms: 400 } };
  const taskIds: string[] = [];
  for (let index = 0; index < SESSIONS; index++) taskIds.push(await createTask(api, agent));
  // One after another: thirty at once would try the API's own database pool on a busy machine, which is not the point here.
  for (const taskId of taskIds) expect((await dispatch(api, taskId)).status).toBe(202);
  const slots = NODES * CAPACITY;
  // Slots change hands all the time: most of them busy with agents that report, and a queue behind them, is mid-load.
  const load = async () => {
    const healths = await Promise.all(
      nodes.map((node) => call<{ active_sessions: number; queued_sessions: number }>(node.service.url, 'GET', '/health')),
    );
    const rows = await sessionRows(databaseUrl);
    return {
      running: healths.reduce((sum, health) => sum + health.body.active_sessions, 0),
      queued: healths[0].body.queued_sessions,
      reporting: rows.filter((row) => row.status === 'running' && row.last_sequence >= 3).length,
    };
  };
  let atStop = await load();
  await waitUntil('agents reporting in most slots', async () => (atStop = await load()).reporting >= slots - CAPACITY, 60_000);
  // A precondition rather than a bound: without a queue behind the running sessions the scenario would prove less than it says.
  expect(atStop.queued).toBeGreaterThanOrEqual(slots);

  const stoppingAt = performance.now();
  await store.stop();
  const stoppedAt = performance.now();
  // While the store is away: every node's /health every 250 ms, and one more task dispatched through the API.
  let probing = true;
  const probes: Promise<Probe>[] = [];
  const prober = (async () => {
    while (probing) {
      for (const node of nodes)
        probes.push(
          call(node.service.url, 'GET', '/health').then(
            ({ status, ms }) => ({ status, ms }),
            () => ({ status: 0, ms: 0 }),
          ),
        );
      await sleep(250);
    }
  })();
  const lateTask = await createTask(api, agent);
  const lateDispatch = dispatch(api, lateTask);
  await sleep(DOWN_MS);
  const startingAt = performance.now();
  await store.start();
  const restartedAt = performance.now();
  probing = false;
  await prober;
  const outage = {
    stopMs: Math.round(stoppedAt - stoppingAt),
    startMs: Math.round(restartedAt - startingAt),
    totalMs: Math.round(restartedAt - stoppingAt),
  };

  // The node it reached waited for its store, as it does for every write, rather than refusing it.
  const late = await lateDispatch;
  expect(late.status).toBe(202);

  const spawned = SESSIONS + 1;
  const rows = await waitForAllTerminal(databaseUrl, spawned, 90_000);
  const endedAfterMs = Math.round(performance.now() - restartedAt);
  expect(rows.map((row) => [row.status, row.error])).toEqual(rows.map(() => ['completed', null]));

  // One agent start per session, none started twice, none for a session the API does not know.
  const starts = nodes[0].starts();
  expect(starts).toHaveLength(spawned);
  expect(new Set(starts).size).toBe(spawned);
  const known = await orchestratorSessions(nodes[0]);
  expect(known.map((session) => session.status)).toEqual(known.map(() => 'completed'));
  expect(known.map((session) => session.session_id).sort()).toEqual(rows.map((row) => row.orchestrator_session_id).sort());
  // Every step of every agent reached the API once: nothing was dropped on the way into the store either.
  const progress = await query<{ steps: number; distinct_steps: number }>(
    databaseUrl,
    `SELECT count(*)::int AS steps, count(DISTINCT data->>'message')::int AS distinct_steps FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} AND type = 'progress' GROUP BY session_id`,
  );
  expect(progress).toEqual(rows.map(() => ({ steps: STEPS, distinct_steps: STEPS })));
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  // status running, 1 log line, a progress and a usage report per step, result, status completed.
  const eventsPerSession = 2 * STEPS + 4;
  expect(account.sent).toBe(spawned * eventsPerSession);
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  // No node was declared lost: all three are live, and none ended anyone's sessions.
  const health = await call<{ nodes: { id: string }[] }>(nodes[0].service.url, 'GET', '/health');
  expect(health.body.nodes.map((node) => node.id).sort()).toEqual(nodes.map((node) => node.nodeId).sort());
  expect(nodes.filter((node) => node.service.output().includes('stopped renewing its lease')).map((node) => node.nodeId)).toEqual([]);
  await h.assertNoAgentsLeft(10_000);

  const answered = await Promise.all(probes);
  const byStatus = Object.entries(countBy(answered.map((probe) => (probe.status === 0 ? 'no answer' : String(probe.status)))))
    .map(([status, count]) => `${count} × ${status}`)
    .join(', ');
  report({
    load: `${SESSIONS} sessions of ${eventsPerSession} events dispatched at once to ${NODES} nodes of capacity ${CAPACITY} (${store.name} queue store), the API pointed at all three; 1 more dispatched during the outage`,
    faults: `${store.fault} with ${atStop.running} sessions running and ${atStop.queued} queued, started again on the same port and data ${DOWN_MS} ms later; NODE_LOST_AFTER_MS ${NODE_LOST_AFTER_MS}, shorter than the outage`,
    inputs: `${spawned} dispatch calls, ${answered.length} /health probes of the nodes during the outage`,
    ...eventFigures(account),
    notes: `the store was unreachable for ${outage.totalMs} ms (stopping it took ${outage.stopMs} ms, starting it ${outage.startMs} ms); all ${spawned} sessions completed, the last ${endedAfterMs} ms after the store was back; ${starts.length} agent starts for ${spawned} sessions (one each); every one of the ${STEPS} steps of each stored once, sequences without gaps; no node declared lost (all three live after, none ended another's sessions); /health during the outage: ${byStatus} (slowest ${Math.max(...answered.map((probe) => probe.ms))} ms); the dispatch made during the outage answered ${late.status} in ${late.ms} ms; nothing left running or pending; no agent process left.`,
  });
}
