import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../support/process-table';
import {
  ORCHESTRATOR_EVENT,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  query,
  sessionRows,
  settledAccount,
  waitForAllTerminal,
  waitUntil,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 6. The orchestrator is SIGKILLed mid-session and restarted as the same node: it adopts the agents that ran on,
 * starts none again, and every progress step is stored once.
 */
export const orchestratorKilledAgentsAdopted: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator();
  // Reconciliation (stale after 15 s) stays out of it: every event must come from the orchestrator itself, as callbacks.
  const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: { RECONCILE_STALE_AFTER_MS: '60000' } });
  const sessions = 5;
  const steps = 40;
  const taskIds: string[] = [];
  // About 8 s of progress each, with a child and a grandchild: the restart falls in the middle.
  for (let index = 0; index < sessions; index++)
    taskIds.push(await createTask(api, { sample_agent: { steps, step_ms: 200, children: 1 } }));
  for (const taskId of taskIds) expect((await dispatch(api, taskId)).status).toBe(202);
  await waitUntil('sessions running', async () => (await sessionRows(databaseUrl)).every((row) => row.status === 'running'), 30_000);
  let trees: number[] = [];
  // Supervisor, agent, child and grandchild: an agent reports running before it has started its child.
  await waitUntil('every agent tree complete', () => (trees = h.sampleAgentsOf(orchestrator.service)).length >= sessions * 4, 10_000);

  orchestrator.service.kill('SIGKILL');
  await orchestrator.service.exited;
  const aliveWhileDown = trees.filter((pid) => isAlive(pid)).length;
  await sleep(2_000);
  const restartedAt = performance.now();
  // Same port, same NODE_ID, same QUEUE_PREFIX, same spools: the same node of the same cluster, back from a crash.
  await orchestrator.restart();

  const rows = await waitForAllTerminal(databaseUrl, sessions, 60_000);
  const endedAfterMs = Math.round(performance.now() - restartedAt);
  expect(rows.map((row) => [row.status, row.error])).toEqual(Array(sessions).fill(['completed', null]));
  // Adopted, not started again: one agent start per session in all.
  expect(orchestrator.starts()).toHaveLength(sessions);
  const progress = await query<{ steps: number; distinct_steps: number }>(
    databaseUrl,
    `SELECT count(*)::int AS steps, count(DISTINCT data->>'message')::int AS distinct_steps FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} AND type = 'progress' GROUP BY session_id`,
  );
  expect(progress).toEqual(Array(sessions).fill({ steps, distinct_steps: steps }));
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  // The agents ended by themselves, and their supervisors with them, once the restarted node had read their ends.
  await h.assertNoAgentsLeft(10_000);
  report({
    load: `${sessions} running sessions of ${steps} progress steps, each agent with a child and a grandchild`,
    faults:
      'orchestrator SIGKILLed (the process alone), restarted 2 s later on the same port with the same NODE_ID, QUEUE_PREFIX and spools',
    inputs: `${sessions} dispatches`,
    ...eventFigures(account),
    notes: `${aliveWhileDown} of ${trees.length} processes of the agents' trees (supervisors, agents, children, grandchildren) ran on while the orchestrator was down; the restarted node adopted all ${sessions} agents (started once each), every session completed with exit 0 ${endedAfterMs} ms after the restart began, with all ${steps} progress steps stored once, sequences without gaps; no process left behind.`,
  });
};
