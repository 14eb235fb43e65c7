import type http from 'node:http';
import { join } from 'node:path';
import { sampleValue } from '../../support/metrics-text';
import { floodListStreams, heapLimitMbOf } from '../../support/stream-flood';
import {
  ORCHESTRATOR_EVENT,
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

const ATTEMPTS = 20_000;
/** Of them, the first key's, from one address: it meets its own cap (100 by default). */
const ONE_KEY_ATTEMPTS = 2_000;
/** Read-scope keys, each from a loopback address of its own: one alone meets its per-key cap, together they meet the total. */
const KEYS = 12;
const IN_FLIGHT = 200;
/** The API's heap bound, as its package.json runs it. */
const HEAP_LIMIT_MB = heapLimitMbOf(join(__dirname, '../../../apps/api/dist/main.js'));

/**
 * 21. Issue 38, finding 1, under load: 20,000 event-stream connections from 12 read keys on 12 addresses while 20
 * sessions report. The API holds no more streams than its caps, refuses the rest with 429 or 503, stays within its
 * heap bound, and stores every callback once.
 */
export const streamFloodWhileReporting: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator({ env: { LOG_LINES_PER_SECOND: '1000' } });
  const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000' } });
  expect(HEAP_LIMIT_MB).toBeGreaterThan(0);
  const keys: string[] = [];
  for (let index = 0; index < KEYS; index++) {
    const made = await call<{ key: string }>(api.service.url, 'POST', '/operator-keys', {
      name: `stream flood ${index}`,
      scopes: ['read'],
    });
    expect(made.status).toBe(201);
    keys.push(made.body.key);
  }

  // 20 sessions of 200 events (running, a log line, 98 progress and usage reports 200 ms apart, result, completed): they report through the flood.
  const sessions = 20;
  const eventsPerSession = 200;
  const taskIds: string[] = [];
  for (let index = 0; index < sessions; index++) {
    taskIds.push(await createTask(api, { sample_agent: { steps: (eventsPerSession - 4) / 2, step_ms: 200 } }));
  }
  const answers = await Promise.all(taskIds.map((taskId) => dispatch(api, taskId)));
  expect(answers.map((answer) => answer.status)).toEqual(Array(sessions).fill(202));

  const held: http.IncomingMessage[] = [];
  const flooding = performance.now();
  try {
    // One key alone first, up to its own cap; then the eleven others in turn, up to the API's total.
    const clientsOf = (indexes: number[]) => indexes.map((index) => ({ key: keys[index], address: `127.0.0.${index + 1}` }));
    const flood = (attempts: number, indexes: number[]) =>
      floodListStreams(api.port, { attempts, clients: clientsOf(indexes), inFlight: IN_FLIGHT, held });
    const oneKey = await flood(ONE_KEY_ATTEMPTS, [0]);
    expect(oneKey).toEqual({ 200: 100, 429: ONE_KEY_ATTEMPTS - 100 });
    const others = await flood(
      ATTEMPTS - ONE_KEY_ATTEMPTS,
      keys.map((_key, index) => index).filter((index) => index > 0),
    );
    const answered = (status: number) => (oneKey[status] ?? 0) + (others[status] ?? 0);
    const floodSeconds = (performance.now() - flooding) / 1000;
    expect(answered(200)).toBe(1_000);
    expect(answered(429) + answered(503)).toBe(ATTEMPTS - 1_000);

    const health = await call(api.service.url, 'GET', '/health');
    expect(health.status).toBe(200);
    const metrics = (await call<string>(api.service.url, 'GET', '/metrics')).text;
    expect(sampleValue(metrics, 'mosaic_event_streams', { kind: 'sessions' })).toBe(1_000);
    const heapMb = (sampleValue(metrics, 'nodejs_heap_size_used_bytes') ?? Infinity) / 1024 / 1024;
    expect(heapMb).toBeLessThan(HEAP_LIMIT_MB);

    const rows = await waitForAllTerminal(databaseUrl, sessions, 150_000);
    expect(rows.map((row) => row.status)).toEqual(Array(sessions).fill('completed'));
    const perSession = await query<{ n: number }>(
      databaseUrl,
      `SELECT count(*)::int AS n FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} GROUP BY session_id`,
    );
    expect(perSession.map((row) => row.n)).toEqual(Array(sessions).fill(eventsPerSession));
    expect(await gappedSessions(databaseUrl)).toEqual([]);
    const account = await settledAccount(databaseUrl, [api.callbacks]);
    expectNothingLost(account);
    expect(account.sent).toBe(sessions * eventsPerSession);
    await h.assertNoAgentsLeft(10_000);
    report({
      load: `${sessions} sessions × ${eventsPerSession} events, reporting while the streams are opened and held`,
      faults: `${ATTEMPTS.toLocaleString('en')} event-stream connections, ${IN_FLIGHT} at a time, from ${KEYS} read keys on ${KEYS} loopback addresses, every stream opened held to the end`,
      inputs: `${ATTEMPTS} stream attempts (${ONE_KEY_ATTEMPTS} from one key first): ${answered(200)} held open (the total cap), ${answered(429)} refused 429 (a key's or an address's cap), ${answered(503)} refused 503 (the total), ${answered(0)} not taken`,
      ...eventFigures(account),
      notes: `the flood took ${floodSeconds.toFixed(1)} s; with 1,000 streams held the API answered /health 200 and its heap was ${heapMb.toFixed(0)} MB of its ${HEAP_LIMIT_MB} MB bound; every session completed with its ${eventsPerSession} events.`,
    });
  } finally {
    for (const response of held) response.destroy();
  }
};
