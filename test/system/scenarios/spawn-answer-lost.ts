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
 * 2. The proxy swallows the answer to the first spawn (the orchestrator did create the session): the API retries with
 * the same Idempotency-Key and gets the original session, one agent in all.
 */
export const spawnAnswerLost: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator();
  const proxy = await h.proxy(orchestrator.port);
  const api = await h.api({ databaseUrl, orchestratorUrl: proxy.url });
  const isSpawn = (method: string, path: string) => method === 'POST' && path === '/orchestrator/sessions/spawn';
  proxy.set({ kind: 'lose_response' }, { times: 1, match: isSpawn });

  const taskId = await createTask(api, { sample_agent: { steps: 3, step_ms: 20 } });
  const dispatched = await dispatch(api, taskId);
  expect(dispatched.status).toBe(202);

  const spawns = proxy.requests.filter((seen) => isSpawn(seen.method, seen.path));
  expect(spawns.map((seen) => [seen.fault, seen.upstreamStatus])).toEqual([
    ['lose_response', 201],
    ['pass', 200],
  ]);
  expect(spawns[1].headers['idempotency-key']).toBe(spawns[0].headers['idempotency-key']);
  expect(spawns[0].headers['idempotency-key']).toBe(dispatched.body.session.id);

  const rows = await waitForAllTerminal(databaseUrl, 1, 30_000);
  expect(rows).toHaveLength(1);
  expect(rows[0].status).toBe('completed');
  const known = await orchestratorSessions(orchestrator);
  expect(known.map((session) => session.session_id)).toEqual([rows[0].orchestrator_session_id]);
  expect(orchestrator.starts()).toHaveLength(1);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  await h.assertNoAgentsLeft(5_000);
  report({
    load: '1 task',
    faults: 'first spawn answer swallowed by the proxy (the orchestrator did create the session)',
    inputs: '1 dispatch, 2 spawn attempts with one Idempotency-Key',
    ...eventFigures(account),
    notes: `retry answered 200 with the original session; orchestrator sessions: ${known.length}; agents started: ${orchestrator.starts().length}; dispatch took ${dispatched.ms} ms.`,
  });
};
