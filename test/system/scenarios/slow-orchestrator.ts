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
  waitUntil,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 3. The orchestrator stops answering (the proxy holds every call): health, dispatch, kill and refresh each answer
 * within their bounds; once it answers again, the running session is killed and nothing is lost.
 */
export const slowOrchestrator: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator();
  const proxy = await h.proxy(orchestrator.port);
  const api = await h.api({
    databaseUrl,
    orchestratorUrl: proxy.url,
    env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '800', ORCHESTRATOR_KILL_TIMEOUT_MS: '800', ORCHESTRATOR_RETRY_ATTEMPTS: '1' },
  });
  const running = await createTask(api, { sample_agent: { duration_ms: 60_000 } });
  const first = await dispatch(api, running);
  expect(first.status).toBe(202);
  await waitUntil('session running', async () => (await sessionRows(databaseUrl))[0]?.status === 'running', 10_000);

  proxy.set({ kind: 'drop' });
  const health = await call<{ error?: { orchestrator?: { status: string; reason: string } } }>(
    api.service.url,
    'GET',
    '/health/orchestrator',
  );
  expect(health.status).toBe(503);
  expect(health.body.error?.orchestrator).toMatchObject({ status: 'down', reason: 'timeout' });
  // Health timeout 500 ms.
  expect(health.ms).toBeLessThan(3_000);

  const late = await createTask(api, { sample_agent: { steps: 1, step_ms: 10 } });
  const timedOut = await dispatch(api, late);
  expect(timedOut.status).toBe(504);
  // Spawn timeout 800 ms, 1 retry after at most 200 ms: 1.8 s plus overhead.
  expect(timedOut.ms).toBeLessThan(5_000);

  const kill = await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${first.body.session.id}/kill`);
  expect([503, 504]).toContain(kill.status);
  expect(kill.ms).toBeLessThan(5_000);

  const refresh = await call(api.service.url, 'GET', `/orchestrator/sessions/${first.body.session.id}?refresh=true`);
  expect(refresh.ms).toBeLessThan(5_000);
  const injected = proxy.faultsInjected();

  proxy.clear();
  await waitUntil(
    'orchestrator healthy again',
    async () => (await call(api.service.url, 'GET', '/health/orchestrator')).status === 200,
    10_000,
  );
  const killed = await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${first.body.session.id}/kill`);
  expect(killed.status).toBe(200);
  expect(killed.body.status).toBe('killed');

  const rows = await waitForAllTerminal(databaseUrl, 2, 15_000);
  expect(rows.map((row) => row.status)).toEqual(['killed', 'failed']);
  expect(rows[1].error).toMatch(/did not answer/);
  const known = await orchestratorSessions(orchestrator);
  expect(known.filter((session) => !['completed', 'failed', 'killed'].includes(session.status))).toEqual([]);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  await h.assertNoAgentsLeft(5_000);
  report({
    load: '1 running session',
    faults: `${injected} calls held without an answer (health, spawn, kill, status)`,
    inputs: 'health, dispatch, kill, refresh while the orchestrator hangs',
    ...eventFigures(account),
    notes: `answers while the orchestrator hung: /health/orchestrator 503 in ${health.ms} ms (bound 3 s), dispatch 504 in ${timedOut.ms} ms (bound 5 s), kill ${kill.status} in ${kill.ms} ms (bound 5 s), refresh ${refresh.status} in ${refresh.ms} ms (bound 5 s).`,
  });
};
