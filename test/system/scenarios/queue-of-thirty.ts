import { setTimeout as sleep } from 'node:timers/promises';
import { countBy } from '../counting';
import {
  ORCHESTRATOR_EVENT,
  ORCHESTRATOR_KEY,
  call,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  query,
  settledAccount,
  waitForAllTerminal,
} from '../harness';
import type { ScenarioBody } from '../report';

/** The queue store the cluster runs on: its name for the report, and its variables for every node. */
export interface QueueStore {
  name: string;
  env: Record<string, string | undefined>;
}

/**
 * 11 (on PostgreSQL) and 14 (on Redis): three nodes of capacity 2 behind one API drain a queue of 30. Sampling
 * every node's /health proves the capacity; the API's stored events prove each agent started once; their
 * timestamps (the orchestrator's) prove the urgent one overtook the low ones waiting when it came.
 */
export function queueOfThirty(store: QueueStore): ScenarioBody {
  return async (h, report) => {
    const databaseUrl = await h.database();
    const capacity = 2;
    const nodes = await h.cluster({ nodes: 3, capacity, env: store.env });
    const api = await h.api({
      databaseUrl,
      orchestratorUrl: nodes.map((node) => node.service.url).join(','),
      env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000', RECONCILE_STALE_AFTER_MS: '60000' },
    });
    // About three seconds each: long enough that a good part of the 29 low ones still waits when the urgent one comes,
    // even when dispatching them takes seconds on a busy machine.
    const agent = { sample_agent: { steps: 3, step_ms: 1_000 } };
    const lowTasks: string[] = [];
    for (let index = 0; index < 29; index++) lowTasks.push(await createTask(api, agent, { priority: 'low' }));
    const urgentTask = await createTask(api, agent, { priority: 'urgent' });

    let sampling = true;
    const busiest = new Map(nodes.map((node) => [node.nodeId, 0]));
    let samples = 0;
    const sampler = (async () => {
      while (sampling) {
        const healths = await Promise.all(nodes.map((node) => call<{ active_sessions: number }>(node.service.url, 'GET', '/health')));
        healths.forEach((health, index) =>
          busiest.set(nodes[index].nodeId, Math.max(busiest.get(nodes[index].nodeId)!, health.body.active_sessions)),
        );
        samples += 1;
        await sleep(25);
      }
    })();
    let lows: Awaited<ReturnType<typeof dispatch>>[];
    let urgent: Awaited<ReturnType<typeof dispatch>>;
    let waitingBefore: string[];
    let urgentQueuedAt: number;
    try {
      lows = await Promise.all(lowTasks.map((taskId) => dispatch(api, taskId)));
      expect(lows.map((answer) => answer.status)).toEqual(lowTasks.map(() => 202));
      // Which low ones still wait, as the cluster sees it, just before the urgent one is dispatched.
      const pending = await call<{ sessions: { session_id: string }[] }>(
        nodes[0].service.url,
        'GET',
        '/orchestrator/sessions?status=pending&limit=500',
        undefined,
        ORCHESTRATOR_KEY,
      );
      waitingBefore = pending.body.sessions.map((session) => session.session_id);
      urgent = await dispatch(api, urgentTask);
      urgentQueuedAt = Date.now();
      expect(urgent.status).toBe(202);
      await waitForAllTerminal(databaseUrl, 30, 150_000);
    } finally {
      sampling = false;
      await sampler.catch(() => undefined);
    }
    const rows = await query<{ id: string; orchestrator_session_id: string; status: string; node: string | null; priority: string }>(
      databaseUrl,
      'SELECT s.id::text, s.orchestrator_session_id, s.status::text AS status, s.node, t.priority::text AS priority FROM orchestrator_sessions s JOIN tasks t ON t.id = s.task_id',
    );
    expect(rows).toHaveLength(30);
    expect(rows.map((row) => row.status)).toEqual(rows.map(() => 'completed'));
    expect([...busiest.values()].every((most) => most <= capacity)).toBe(true);
    expect(Math.max(...busiest.values())).toBe(capacity);
    const byNode = countBy(rows.map((row) => row.node ?? 'none'));
    expect(Object.keys(byNode).sort()).toEqual(nodes.map((node) => node.nodeId).sort());
    // Each agent started once: one `running` status event and one start line per session, one start on record per session.
    const starts = await query<{ session_id: string; running: number; start_lines: number; running_at: Date }>(
      databaseUrl,
      `SELECT e.session_id::text,
              count(*) FILTER (WHERE e.type = 'status' AND e.status = 'running')::int AS running,
              count(*) FILTER (WHERE e.type = 'log' AND e.data->>'line' LIKE 'sample agent working on task %')::int AS start_lines,
              min(e.occurred_at) FILTER (WHERE e.type = 'status' AND e.status = 'running') AS running_at
         FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} GROUP BY e.session_id`,
    );
    expect(starts.map((row) => [row.running, row.start_lines])).toEqual(rows.map(() => [1, 1]));
    expect(nodes[0].starts()).toHaveLength(30);
    expect(new Set(nodes[0].starts()).size).toBe(30);
    // The low ones still waiting when the urgent one was queued, and not started by then (a slot handed out as it was
    // queued may go either way: 250 ms of margin), start after it. A start is a node's claim, not the queue's hand-out:
    // a node slow to claim the urgent one lets the other nodes claim the low ones they were handed meanwhile, at most
    // one per slot of theirs. With the priority ignored, every one of them would start before it.
    const startedAt = new Map(
      rows.map((row) => [row.orchestrator_session_id, starts.find((start) => start.session_id === row.id)!.running_at.getTime()]),
    );
    const urgentStartedAt = startedAt.get(urgent.body.session.orchestrator_session_id!)!;
    const overtaken = waitingBefore.filter((id) => startedAt.get(id)! >= urgentQueuedAt + 250);
    const otherNodesSlots = (nodes.length - 1) * capacity;
    expect(overtaken.length).toBeGreaterThan(2 * otherNodesSlots);
    const beforeUrgent = overtaken.filter((id) => startedAt.get(id)! < urgentStartedAt);
    expect(beforeUrgent.length).toBeLessThanOrEqual(otherNodesSlots);
    const lowsAfter = rows.filter((row) => row.priority === 'low' && startedAt.get(row.orchestrator_session_id)! > urgentStartedAt).length;
    const account = await settledAccount(databaseUrl, [api.callbacks]);
    expectNothingLost(account);
    expect(await gappedSessions(databaseUrl)).toEqual([]);
    await h.assertNoAgentsLeft(10_000);
    const slowest = Math.max(...[...lows, urgent].map((answer) => answer.ms));
    report({
      load: `30 tasks dispatched at once (29 low, then 1 urgent) to 3 nodes of capacity ${capacity} (${store.name} queue store), the API pointed at all three`,
      faults: 'none (queueing and priority only)',
      inputs: '30 dispatch calls',
      ...eventFigures(account),
      notes: `all 30 completed; sessions per node ${Object.entries(byNode)
        .map(([node, count]) => `${node} ${count}`)
        .join(
          ', ',
        )}; most active sessions seen on one node ${Math.max(...busiest.values())} (${samples} samples of every node's /health, bound ${capacity}); one running status and one start line per session, 30 agent starts for 30 sessions; ${waitingBefore.length} low ones were waiting when the urgent one was dispatched, ${overtaken.length} of them started ≥ 250 ms after it was queued, ${overtaken.length - beforeUrgent.length} after the urgent one and ${beforeUrgent.length} just before it, claimed by other nodes while its node was claiming it (bound ${otherNodesSlots}) (the urgent one started ${Math.abs(urgentStartedAt - urgentQueuedAt)} ms ${urgentStartedAt >= urgentQueuedAt ? 'after' : 'before'} its dispatch answer reached the client; ${lowsAfter} low ones in all started after it); slowest dispatch answer ${slowest} ms.`,
    });
  };
}
