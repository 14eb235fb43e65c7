import { eventually } from '../../support/eventually';
import {
  call,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  orchestratorSessions,
  sessionRows,
  settledAccount,
  waitForAllTerminal,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 1. The orchestrator is stopped when the first dispatch comes: a quick 503 and a failed session; once it is back, the
 * same task dispatches and completes, its agent started once.
 */
export const orchestratorDownAtDispatch: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator();
  await orchestrator.service.stop();
  const api = await h.api({ databaseUrl, orchestratorUrl: `http://127.0.0.1:${orchestrator.port}` });
  const taskId = await createTask(api, { sample_agent: { steps: 3, step_ms: 20 } });

  const refused = await dispatch(api, taskId);
  expect(refused.status).toBe(503);
  // Connection refused, two retries of at most 200 ms: far below this bound.
  expect(refused.ms).toBeLessThan(5_000);
  expect((await sessionRows(databaseUrl)).map((row) => row.status)).toEqual(['failed']);

  await orchestrator.restart();
  let attempts = 0;
  // The breaker may still be open for its 200 ms; a client retries as it would on any 503, every 200 ms.
  const accepted = await eventually(
    async () => {
      attempts += 1;
      const answer = await dispatch(api, taskId);
      if (answer.status === 503) throw new Error(`dispatch after the restart answered 503 (${attempts} attempts)`);
      return answer;
    },
    10_000,
    200,
  );
  expect(accepted.status).toBe(202);
  const rows = await waitForAllTerminal(databaseUrl, 2, 30_000);
  expect(rows.map((row) => row.status)).toEqual(['failed', 'completed']);
  expect(rows[0].error).toMatch(/^spawn failed/);
  const task = await call<{ status: string }>(api.service.url, 'GET', `/tasks/${taskId}`);
  expect(task.body.status).toBe('completed');

  expect(orchestrator.starts()).toHaveLength(1);
  const known = await orchestratorSessions(orchestrator);
  expect(known.map((session) => session.session_id)).toEqual([rows[1].orchestrator_session_id]);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  await h.assertNoAgentsLeft(5_000);
  report({
    load: '1 task',
    faults: 'orchestrator process stopped during the first dispatch',
    inputs: `${attempts + 1} dispatch calls`,
    ...eventFigures(account),
    notes: `first dispatch answered 503 in ${refused.ms} ms; ${attempts} dispatch(es) after the restart until 202; agents started: ${orchestrator.starts().length}; orchestrator sessions: ${known.length}.`,
  });
};
