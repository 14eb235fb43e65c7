import { setTimeout as sleep } from 'node:timers/promises';
import {
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  orchestratorStatus,
  settledAccount,
  waitForAllTerminal,
  waitUntil,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 4. The API is SIGKILLed while callbacks flow and restarted on the same port: the orchestrator redelivers what met
 * no API, and every session ends as the orchestrator says, with no event lost or stored twice.
 */
export const apiKilledWhileCallbacksFlow: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator();
  const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url });
  const sessions = 12;
  const taskIds: string[] = [];
  for (let index = 0; index < sessions; index++) {
    const failing = index % 4 === 3;
    taskIds.push(await createTask(api, { sample_agent: { steps: 30, step_ms: 80, ...(failing ? { exit_code: 3 } : {}) } }));
  }
  for (const taskId of taskIds) expect((await dispatch(api, taskId)).status).toBe(202);
  await waitUntil('callbacks flowing', () => api.callbacks.requests.length > sessions * 3, 10_000);

  api.service.kill('SIGKILL');
  await api.service.exited;
  const deliveriesAtKill = api.callbacks.requests.length;
  await sleep(1_500);
  await api.restart();

  const rows = await waitForAllTerminal(databaseUrl, sessions, 60_000);
  for (const row of rows) {
    const truth = await orchestratorStatus(orchestrator, row.orchestrator_session_id!);
    expect([row.id, row.status]).toEqual([row.id, truth.status]);
  }
  expect(rows.filter((row) => row.status === 'failed')).toHaveLength(sessions / 4);
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  const refusedWhileDown = api.callbacks.requests.filter((seen) => seen.upstreamStatus === undefined).length;
  expect(refusedWhileDown).toBeGreaterThan(0);
  await h.assertNoAgentsLeft(10_000);
  report({
    load: `${sessions} sessions of 34 events (3 of them failing)`,
    faults: 'API SIGKILLed mid-stream, down 1.5 s, restarted on the same port',
    inputs: `${account.deliveries} callback deliveries`,
    ...eventFigures(account),
    notes: `${deliveriesAtKill} deliveries before the kill; ${refusedWhileDown} deliveries met no API and were retried; every session's status equals the orchestrator's; sequences contiguous.`,
  });
};
