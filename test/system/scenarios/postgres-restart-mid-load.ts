import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../packages/embedded-postgres/src';
import { applyMigrations } from '../../../apps/api/src/database/migrator';
import { freePort } from '../../support/service-process';
import {
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  settledAccount,
  waitForAllTerminal,
  waitUntil,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 5. The database (an embedded PostgreSQL of the scenario's own) is stopped for 2 s while callbacks flow: the API
 * answers 5xx meanwhile, the orchestrator redelivers, and every event is stored once.
 */
export const postgresRestartedMidLoad: ScenarioBody = async (h, report) => {
  const dataDir = join(await h.tempDir(), 'postgres');
  const port = await freePort();
  let postgres: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ dataDir, port });
  // Registered after its directory, so it runs before the directory is removed, and after every service has stopped.
  h.onCleanup(async () => postgres?.stop());
  const databaseUrl = postgres.url;
  await applyMigrations(databaseUrl);
  const orchestrator = await h.orchestrator();
  const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url });
  const sessions = 10;
  const taskIds: string[] = [];
  for (let index = 0; index < sessions; index++) taskIds.push(await createTask(api, { sample_agent: { steps: 40, step_ms: 80 } }));
  for (const taskId of taskIds) expect((await dispatch(api, taskId)).status).toBe(202);
  await waitUntil('callbacks flowing', () => api.callbacks.requests.length > sessions * 3, 10_000);

  await postgres.stop();
  postgres = undefined;
  await sleep(2_000);
  postgres = await startEmbeddedPostgres({ dataDir, port });

  const rows = await waitForAllTerminal(databaseUrl, sessions, 90_000);
  expect(rows.map((row) => row.status)).toEqual(Array(sessions).fill('completed'));
  const serverErrors = api.callbacks.requests.filter((seen) => (seen.upstreamStatus ?? 0) >= 500).length;
  const clientErrors = api.callbacks.requests.filter(
    (seen) => (seen.upstreamStatus ?? 0) >= 400 && (seen.upstreamStatus ?? 0) < 500,
  ).length;
  expect(serverErrors).toBeGreaterThan(0);
  expect(clientErrors).toBe(0);
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  // status running, 1 log line, 40 progress and 40 usage reports, result, status completed.
  expect(account.sent).toBe(sessions * 84);
  await h.assertNoAgentsLeft(10_000);
  report({
    load: `${sessions} sessions of 84 events`,
    faults: 'PostgreSQL stopped for 2 s mid-stream (dedicated embedded server), then started on the same data',
    inputs: `${account.deliveries} callback deliveries`,
    ...eventFigures(account),
    notes: `${serverErrors} callbacks answered 5xx while the database was down and were redelivered; no 4xx; all sessions completed.`,
  });
};
