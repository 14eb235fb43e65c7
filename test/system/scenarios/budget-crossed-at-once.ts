import {
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

/**
 * 15. Twenty sessions cross their budgets at about the same moment, their callbacks split over two API instances:
 * each is cancelled once, with one budget record, and its usage totals equal its stored reports.
 */
export const budgetCrossedAtOnce: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator({ env: { MAX_CONCURRENT_SESSIONS: '20' } });
  const proxy = await h.proxy(orchestrator.port);
  const env = { BUDGET_CANCEL_GRACE_MS: '5000', RECONCILE_STALE_AFTER_MS: '60000', ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000' };
  // Half the sessions report to one API instance, half to the other: both see crossings at the same moments.
  const apis = [
    await h.api({ databaseUrl, orchestratorUrl: proxy.url, env }),
    await h.api({ databaseUrl, orchestratorUrl: proxy.url, env }),
  ];
  const sessions = 20;
  const isCancel = (method: string, path: string) => method === 'POST' && path.endsWith('/cancel');
  // 100 tokens a step against a budget of 250: every session passes it with its third report, all within the same second.
  const agent = { sample_agent: { steps: 40, step_ms: 300, usage_per_step: { input_tokens: 100, output_tokens: 0 } } };
  const taskIds: string[] = [];
  for (let index = 0; index < sessions; index++) taskIds.push(await createTask(apis[index % 2], agent, { budget: { max_tokens: 250 } }));
  const answers = await Promise.all(taskIds.map((taskId, index) => dispatch(apis[index % 2], taskId)));
  expect(answers.map((answer) => answer.status)).toEqual(Array(sessions).fill(202));

  const rows = await waitForAllTerminal(databaseUrl, sessions, 120_000);
  expect(rows.map((row) => [row.status, row.error])).toEqual(Array(sessions).fill(['cancelled', 'budget_exceeded']));
  const cancels = proxy.requests.filter((seen) => isCancel(seen.method, seen.path));
  expect(cancels).toHaveLength(sessions);
  expect(new Set(cancels.map((seen) => seen.path)).size).toBe(sessions);
  const records = await query<{ n: number; used: number }>(
    databaseUrl,
    `SELECT count(*)::int AS n, min((data->>'used')::int) AS used FROM orchestrator_session_events WHERE data->>'actor' = 'budget' GROUP BY session_id`,
  );
  expect(records).toEqual(Array(sessions).fill({ n: 1, used: 300 }));
  const usage = await query<{ input_tokens: string; reported: string }>(
    databaseUrl,
    `SELECT s.input_tokens::text, coalesce(sum((e.data->>'input_tokens')::bigint), 0)::text AS reported
       FROM orchestrator_sessions s LEFT JOIN orchestrator_session_events e ON e.session_id = s.id AND e.type = 'usage'
      GROUP BY s.id`,
  );
  // Every stored report is counted once, the ones that came after the crossing included.
  for (const row of usage) expect(row.input_tokens).toBe(row.reported);
  const account = await settledAccount(
    databaseUrl,
    apis.map((api) => api.callbacks),
  );
  expectNothingLost(account);
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  await h.assertNoAgentsLeft(10_000);
  report({
    load: `${sessions} sessions reporting 100 tokens every 300 ms, their callbacks split over 2 API instances`,
    faults: 'none: every session passes its budget (max_tokens 250) with its third report, at about the same moment',
    inputs: `${sessions} dispatches with a budget`,
    ...eventFigures(account),
    notes: `${cancels.length} cancels reached the orchestrator, one per session; each session ended cancelled/budget_exceeded with one budget record (used 300 of 250); session totals equal the sum of their stored usage events.`,
  });
};
