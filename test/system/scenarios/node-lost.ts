import { setTimeout as sleep } from 'node:timers/promises';
import { killNodeAndAgents } from '../../support/orchestrator-cluster';
import { waitForNoProcesses } from '../../support/process-table';
import { countBy } from '../counting';
import { call, createTask, dispatch, eventFigures, expectNothingLost, gappedSessions, query, settledAccount, waitUntil } from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 12. A node of three is SIGKILLed with its agents while the API, pointed at all three, keeps dispatching: its
 * sessions end failed (node_lost) within the bound, and the queue drains on the two that are left.
 */
export const nodeLost: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const nodeLostAfterMs = 3_000;
  const nodes = await h.cluster({ nodes: 3, capacity: 2, env: { QUEUE_URL: undefined, NODE_LOST_AFTER_MS: String(nodeLostAfterMs) } });
  const api = await h.api({
    databaseUrl,
    orchestratorUrl: nodes.map((node) => node.service.url).join(','),
    env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000', RECONCILE_STALE_AFTER_MS: '60000' },
  });
  type Row = { id: string; status: string; error: string | null; node: string | null; long: boolean };
  const apiRows = () =>
    query<Row>(
      databaseUrl,
      `SELECT s.id::text, s.status::text AS status, s.error, s.node, (t.metadata->'sample_agent'->>'duration_ms') IS NOT NULL AS long
         FROM orchestrator_sessions s JOIN tasks t ON t.id = s.task_id ORDER BY s.created_at`,
    );
  const longAgent = { sample_agent: { steps: 1, duration_ms: 170_000 } };
  const shortAgent = { sample_agent: { steps: 2, step_ms: 100 } };
  const dispatches: Awaited<ReturnType<typeof dispatch>>[] = [];
  const dispatchNew = async (metadata: Record<string, unknown>) => {
    const answer = await dispatch(api, await createTask(api, metadata));
    dispatches.push(answer);
    return answer;
  };
  // Every slot of the cluster taken by a long session, then a few queued behind them.
  await Promise.all(Array.from({ length: 6 }, () => dispatchNew(longAgent)));
  await waitUntil(
    'six long sessions running',
    async () => (await apiRows()).filter((row) => row.status === 'running').length === 6,
    60_000,
  );
  for (let index = 0; index < 3; index++) await dispatchNew(shortAgent);
  const before = await apiRows();
  expect(countBy(before.filter((row) => row.status === 'running').map((row) => row.node ?? 'none'))).toEqual({
    'node-0': 2,
    'node-1': 2,
    'node-2': 2,
  });

  // Dispatching goes on through the API during and after the loss, one new task every 250 ms.
  let dispatching = true;
  const dispatcher = (async () => {
    while (dispatching) {
      await dispatchNew(shortAgent);
      await sleep(250);
    }
  })();
  const lostNode = nodes[0];
  const lostSessions = before.filter((row) => row.node === lostNode.nodeId).map((row) => row.id);
  h.sampleAgentsOf(lostNode.service);
  const killedAt = performance.now();
  const killed = killNodeAndAgents(lostNode.service);
  let lostAfterMs: number;
  try {
    await waitForNoProcesses(killed, 5_000);
    await waitUntil(
      "the lost node's sessions failed in the API",
      async () => (await apiRows()).filter((row) => lostSessions.includes(row.id)).every((row) => row.status === 'failed'),
      nodeLostAfterMs + 10_000,
    );
    lostAfterMs = Math.round(performance.now() - killedAt);
    // Dispatching goes on for a while after the loss too.
    await sleep(3_000);
  } finally {
    dispatching = false;
    await dispatcher;
  }
  expect((await apiRows()).filter((row) => lostSessions.includes(row.id)).map((row) => [row.status, row.error])).toEqual(
    lostSessions.map(() => ['failed', 'node_lost']),
  );
  expect(dispatches.filter((answer) => answer.status !== 202).map((answer) => [answer.status, answer.body])).toEqual([]);
  const health = await call<{ nodes: { id: string }[] }>(nodes[1].service.url, 'GET', '/health');
  expect(health.body.nodes.map((node) => node.id).sort()).toEqual(['node-1', 'node-2']);

  // Room for the queue on the live nodes: one long session ended on each; the queued ones run there.
  const survivors = (await apiRows()).filter((row) => row.long && row.status === 'running');
  expect(survivors.map((row) => row.node).sort()).toEqual(['node-1', 'node-1', 'node-2', 'node-2']);
  const firstKills = [survivors.find((row) => row.node === 'node-1')!, survivors.find((row) => row.node === 'node-2')!];
  for (const row of firstKills)
    expect((await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${row.id}/kill`)).body.status).toBe('killed');
  const shortCount = (await apiRows()).filter((row) => !row.long).length;
  await waitUntil(
    'every queued session completed',
    async () => (await apiRows()).filter((row) => !row.long).every((row) => row.status === 'completed'),
    120_000,
  );
  for (const row of survivors.filter((survivor) => !firstKills.includes(survivor))) {
    expect((await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${row.id}/kill`)).body.status).toBe('killed');
  }
  const rows = await apiRows();
  expect(rows.filter((row) => row.status === 'running' || row.status === 'pending' || row.status === 'spawning')).toEqual([]);
  const shorts = rows.filter((row) => !row.long);
  expect(shorts.every((row) => row.node === 'node-1' || row.node === 'node-2')).toBe(true);
  expect(countBy(rows.map((row) => `${row.status}${row.error === 'node_lost' ? '/node_lost' : ''}`))).toEqual({
    'failed/node_lost': 2,
    killed: 4,
    completed: shortCount,
  });
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  await h.assertNoAgentsLeft(10_000);
  const slowest = Math.max(...dispatches.map((answer) => answer.ms));
  report({
    load: `6 long sessions on 3 nodes of capacity 2, then ${shortCount} short ones queued (${shortCount - 3} of them dispatched during and after the loss)`,
    faults: `node-0 and its agents SIGKILLed (NODE_LOST_AFTER_MS ${nodeLostAfterMs})`,
    inputs: `${dispatches.length} dispatch calls through the API (ORCHESTRATOR_URL = all three nodes), 4 kills`,
    ...eventFigures(account),
    notes: `every dispatch answered 202 (slowest ${slowest} ms), none failed while node-0 was gone; node-0's ${lostSessions.length} sessions ended failed (node_lost) in the API ${lostAfterMs} ms after the kill (bound ${nodeLostAfterMs + 10_000} ms); all ${shortCount} queued sessions completed on node-1 and node-2 (${Object.entries(
      countBy(shorts.map((row) => row.node ?? 'none')),
    )
      .map(([node, count]) => `${node} ${count}`)
      .join(', ')}); the 4 long survivors killed through the API; nothing left running or pending; no agent process left.`,
  });
};
