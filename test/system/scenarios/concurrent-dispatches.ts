import {
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  orchestratorSessions,
  settledAccount,
  waitForAllTerminal,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 7. Three API instances on one database, each task dispatched twice at once through two of them: one 202 and one
 * 409 per task, one session and one agent each.
 */
export const concurrentDispatches: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  // A trivial agent: the point is the dispatch race, and 200 Node agents at once would take the CPU it needs.
  const orchestrator = await h.orchestrator({ agentCommand: 'exit 0' });
  // 400 dispatch calls at once saturate the CPU: spawn answers take seconds to get through, so give them time.
  const slowSpawns = { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000', RECONCILE_STALE_AFTER_MS: '60000' };
  const apis = await Promise.all([1, 2, 3].map(() => h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: slowSpawns })));
  const tasks = 200;
  const taskIds: string[] = [];
  for (let index = 0; index < tasks; index++) taskIds.push(await createTask(apis[index % 3], {}));

  // Every task is dispatched twice at once, through two different instances.
  const answers = await Promise.all(
    taskIds.flatMap((taskId, index) => [dispatch(apis[index % 3], taskId), dispatch(apis[(index + 1) % 3], taskId)]),
  );
  const accepted = answers.filter((answer) => answer.status === 202);
  const conflicts = answers.filter((answer) => answer.status === 409);
  expect(answers.filter((answer) => answer.status !== 202 && answer.status !== 409).map((answer) => [answer.status, answer.body])).toEqual(
    [],
  );
  expect(accepted).toHaveLength(tasks);
  expect(conflicts).toHaveLength(tasks);

  const rows = await waitForAllTerminal(databaseUrl, tasks, 60_000);
  expect(rows).toHaveLength(tasks);
  expect(new Set(rows.map((row) => row.task_id)).size).toBe(tasks);
  expect(new Set(rows.map((row) => row.orchestrator_session_id)).size).toBe(tasks);
  expect(rows.every((row) => row.status === 'completed')).toBe(true);
  const starts = orchestrator.starts();
  expect(starts).toHaveLength(tasks);
  expect(new Set(starts).size).toBe(tasks);
  const known = await orchestratorSessions(orchestrator);
  expect(known).toHaveLength(tasks);
  const account = await settledAccount(
    databaseUrl,
    apis.map((api) => api.callbacks),
  );
  expectNothingLost(account);
  await h.assertNoAgentsLeft(5_000);
  const slowest = Math.max(...answers.map((answer) => answer.ms));
  report({
    load: `${tasks} tasks, ${answers.length} concurrent dispatch calls over 3 API processes on one database`,
    faults: 'each task dispatched twice at once, through two instances',
    inputs: `${answers.length} dispatch calls`,
    ...eventFigures(account),
    notes: `${accepted.length} × 202, ${conflicts.length} × 409; ${rows.length} sessions, ${starts.length} agents started (AGENT_COMMAND \`exit 0\`, MAX_CONCURRENT_SESSIONS 256), ${known.length} orchestrator sessions; slowest dispatch answer ${slowest} ms.`,
  });
};
