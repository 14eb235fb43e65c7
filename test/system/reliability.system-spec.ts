import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { TASK_PRIORITIES, callbackEventSchema } from '@mosaic/orchestrator-contract';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../packages/embedded-postgres/src';
import { applyMigrations } from '../../apps/api/src/database/migrator';
import { killNodeAndAgents } from '../support/orchestrator-cluster';
import { isAlive, liveDescendants, liveProcesses, waitForNoProcesses } from '../support/process-table';
import { rawRequest } from '../support/http';
import { freePort } from '../support/service-process';
import {
  CALLBACK_SIGNING_KEY,
  ORCHESTRATOR_EVENT,
  ORCHESTRATOR_KEY,
  OPERATOR_TOKEN,
  REPO_ROOT,
  SystemHarness,
  settledAccount,
  call,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  orchestratorSessions,
  orchestratorStatus,
  query,
  sessionRows,
  waitForAllTerminal,
  waitUntil,
} from './harness';
import { callbackTokenOf, describeStatuses, headerValue, isContractError, signingSecretOf, tablesDigest, unstorableTexts } from './hostile';
import { writeReliabilityReport, type Figures } from './report';
import { figures, scenario } from './scenario';
import { hostileInputAgainstNewEndpoints } from './scenarios/hostile-new-endpoints';
import { nodeLostWhileStreaming } from './scenarios/node-lost-while-streaming';
import { postgresRestartedUnderOrchestrator } from './scenarios/postgres-restart-under-orchestrator';
import { redisRestartedMidLoad } from './scenarios/redis-restart';
import { rollingDeploy } from './scenarios/rolling-deploy';

jest.setTimeout(180_000);

afterAll(() => {
  if (figures.length > 0) writeReliabilityReport(join(REPO_ROOT, 'docs', 'reliability.md'), figures);
});

describe('reliability of the real services under faults, load and hostile input', () => {
  scenario('1. Orchestrator down at dispatch, back up later', async (h, report) => {
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
    let attempts = 1;
    let accepted = await dispatch(api, taskId);
    // The breaker may still be open for its 200 ms; a client retries as it would on any 503.
    while (accepted.status === 503 && attempts < 20) {
      await sleep(200);
      attempts += 1;
      accepted = await dispatch(api, taskId);
    }
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
  });

  scenario('2. Spawn answer lost, retried with the same key', async (h, report) => {
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
  });

  scenario('3. Slow orchestrator', async (h, report) => {
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
    const health = await call<{ error?: { orchestrator?: { status: string; reason: string } } }>(api.service.url, 'GET', '/health/orchestrator');
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
    await waitUntil('orchestrator healthy again', async () => (await call(api.service.url, 'GET', '/health/orchestrator')).status === 200, 10_000);
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
  });

  scenario('4. API killed (SIGKILL) while callbacks flow, then restarted', async (h, report) => {
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
  });

  scenario('5. PostgreSQL restarted mid-load', async (h, report) => {
    const dataDir = join(await h.tempDir(), 'postgres');
    const port = await freePort();
    let postgres: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ dataDir, port });
    try {
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
      const clientErrors = api.callbacks.requests.filter((seen) => (seen.upstreamStatus ?? 0) >= 400 && (seen.upstreamStatus ?? 0) < 500).length;
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
    } finally {
      await h.cleanup();
      await postgres?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  scenario('6. Orchestrator killed mid-session, its agents adopted', async (h, report) => {
    const databaseUrl = await h.database();
    const orchestrator = await h.orchestrator();
    // Reconciliation (stale after 15 s) stays out of it: every event must come from the orchestrator itself, as callbacks.
    const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: { RECONCILE_STALE_AFTER_MS: '60000' } });
    const sessions = 5;
    const steps = 40;
    const taskIds: string[] = [];
    // About 8 s of progress each, with a child and a grandchild: the restart falls in the middle.
    for (let index = 0; index < sessions; index++) taskIds.push(await createTask(api, { sample_agent: { steps, step_ms: 200, children: 1 } }));
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
      faults: 'orchestrator SIGKILLed (the process alone), restarted 2 s later on the same port with the same NODE_ID, QUEUE_PREFIX and spools',
      inputs: `${sessions} dispatches`,
      ...eventFigures(account),
      notes: `${aliveWhileDown} of ${trees.length} processes of the agents' trees (supervisors, agents, children, grandchildren) ran on while the orchestrator was down; the restarted node adopted all ${sessions} agents (started once each), every session completed with exit 0 ${endedAfterMs} ms after the restart began, with all ${steps} progress steps stored once, sequences without gaps; no process left behind.`,
    });
  });

  scenario('7. Three API instances, 200 concurrent dispatches', async (h, report) => {
    const databaseUrl = await h.database();
    // A trivial agent: the point is the dispatch race, and 200 Node agents would not fit two cores at once.
    const orchestrator = await h.orchestrator({ agentCommand: 'exit 0' });
    // 400 dispatch calls at once saturate two cores: spawn answers take seconds to get through, so give them time.
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
    expect(answers.filter((answer) => answer.status !== 202 && answer.status !== 409).map((answer) => [answer.status, answer.body])).toEqual([]);
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
    const account = await settledAccount(databaseUrl, apis.map((api) => api.callbacks));
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
  });

  scenario('8. Load: 50 sessions of 200 events each', async (h, report) => {
    const databaseUrl = await h.database();
    // A progress line every 5 ms is over the default 20 a second, at which only the latest would be sent: this is load, not a chatty agent.
    const orchestrator = await h.orchestrator({ env: { LOG_LINES_PER_SECOND: '1000' } });
    // 50 agents starting at once on two cores: spawn answers may take seconds.
    const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000' } });
    const sessions = 50;
    const eventsPerSession = 200;
    // status running + 1 log line + 98 steps of a progress and a usage report + result + status completed.
    const steps = (eventsPerSession - 4) / 2;
    const taskIds: string[] = [];
    for (let index = 0; index < sessions; index++) taskIds.push(await createTask(api, { sample_agent: { steps, step_ms: 5 } }));
    const started = performance.now();
    const answers = await Promise.all(taskIds.map((taskId) => dispatch(api, taskId)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(sessions).fill(202));

    const rows = await waitForAllTerminal(databaseUrl, sessions, 150_000);
    const seconds = (performance.now() - started) / 1000;
    expect(rows.map((row) => row.status)).toEqual(Array(sessions).fill('completed'));
    expect(rows.map((row) => row.last_sequence)).toEqual(Array(sessions).fill(eventsPerSession));
    const perSession = await query<{ n: number; ordered: boolean }>(
      databaseUrl,
      `SELECT count(*)::int AS n,
              array_agg(sequence ORDER BY sequence) = array_agg(sequence ORDER BY id) AS ordered
         FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} GROUP BY session_id`,
    );
    expect(perSession.map((row) => row.n)).toEqual(Array(sessions).fill(eventsPerSession));
    expect(await gappedSessions(databaseUrl)).toEqual([]);
    const account = await settledAccount(databaseUrl, [api.callbacks]);
    expectNothingLost(account);
    expect(account.sent).toBe(sessions * eventsPerSession);
    const inArrivalOrder = perSession.filter((row) => row.ordered).length;
    await h.assertNoAgentsLeft(10_000);
    report({
      load: `${sessions} concurrent sessions × ${eventsPerSession} events`,
      faults: 'none (load only)',
      inputs: `${account.deliveries} callback deliveries`,
      ...eventFigures(account),
      notes: `all sessions completed with last_sequence ${eventsPerSession}; ${inArrivalOrder} of ${sessions} sessions stored in arrival order equal to sequence order; ${(account.stored / seconds).toFixed(0)} events/s stored end to end (dispatch to last terminal status ${seconds.toFixed(1)} s, through the recording proxy).`,
    });
  });

  scenario('9. Kill storm', async (h, report) => {
    const databaseUrl = await h.database();
    const orchestrator = await h.orchestrator();
    const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url });
    const sessions = 16;
    const taskIds: string[] = [];
    // 30 s of reports every 30 ms, then alive until killed: a slow start on a shared machine must not let them complete first.
    for (let index = 0; index < sessions; index++) taskIds.push(await createTask(api, { sample_agent: { steps: 1000, step_ms: 30, children: 1, duration_ms: 170_000 } }));
    const answers = await Promise.all(taskIds.map((taskId) => dispatch(api, taskId)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(sessions).fill(202));
    // Each session: the agent, its child and that child's grandchild.
    // Preconditions, not bounds: 48 Node processes starting on two shared cores may take a while.
    await waitUntil('every agent tree up', () => h.sampleAgentsOf(orchestrator.service).length >= sessions * 3, 60_000);
    await waitUntil('progress reported', async () => (await sessionRows(databaseUrl)).every((row) => row.last_sequence >= 3), 60_000);
    const tree = h.sampleAgentsOf(orchestrator.service);

    const kills = await Promise.all(answers.map((answer) => call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${answer.body.session.id}/kill`)));
    const slowest = Math.max(...kills.map((kill) => kill.ms));
    expect(kills.map((kill) => [kill.status, kill.body.status])).toEqual(Array(sessions).fill([200, 'killed']));
    // The contract: the tree is gone when the answer is sent. A few ms for /proc to catch up.
    await h.assertNoAgentsLeft(1_000);
    // Bound stated in docs/reliability.md: 10 s per kill answer (a kill escalates to SIGKILL well before).
    expect(slowest).toBeLessThan(10_000);

    const rows = await waitForAllTerminal(databaseUrl, sessions, 10_000);
    expect(rows.map((row) => row.status)).toEqual(Array(sessions).fill('killed'));
    for (const row of rows) expect((await orchestratorStatus(orchestrator, row.orchestrator_session_id!)).status).toBe('killed');
    // Callbacks already in flight when the kill landed still arrive; let them settle before counting.
    await sleep(1_000);
    expect(await gappedSessions(databaseUrl)).toEqual([]);
    const account = await settledAccount(databaseUrl, [api.callbacks]);
    expectNothingLost(account);
    report({
      load: `${sessions} sessions reporting every 30 ms, ${tree.length} agent processes (agent, child, grandchild each)`,
      faults: `${sessions} concurrent kills`,
      inputs: `${sessions} kill calls`,
      ...eventFigures(account),
      notes: `every kill answered 200 killed; slowest kill answer ${slowest} ms, median ${median(kills.map((kill) => kill.ms))} ms (bound asserted: 10 s); no process of any agent tree alive 1 s after the answers.`,
    });
  });

  scenario('10. Hostile input against the callback and operator endpoints', async (h, report) => {
    const databaseUrl = await h.database();
    const orchestrator = await h.orchestrator();
    // Records the spawn requests, which carry each session's callback signing secret as the orchestrator received it.
    const spawns = await h.proxy(orchestrator.port);
    // Short token lifetimes, so that expiry and revocation happen within the scenario; long enough for every
    // callback property that needs the long session's token valid (each is followed by a check that it still is).
    // 30 s: on two cores shared with other work, the callback properties alone have taken more than 15 s.
    const tokenTtlMs = 30_000;
    const api = await h.api({
      databaseUrl,
      orchestratorUrl: spawns.url,
      // No reconciliation run either: its refreshes would write to the database this scenario proves unchanged.
      env: { CALLBACK_TOKEN_TTL_MS: String(tokenTtlMs), CALLBACK_TOKEN_TERMINAL_GRACE_MS: '300', RECONCILE_INTERVAL_MS: '3600000' },
    });
    // Alive until the scenario kills it at the end, however long the properties take on a busy machine.
    const longTask = await createTask(api, { sample_agent: { duration_ms: 170_000 } });
    const shortTask = await createTask(api, { sample_agent: { steps: 1, step_ms: 10 } });
    const long = await dispatch(api, longTask);
    const short = await dispatch(api, shortTask);
    await waitUntil('both sessions reported', async () => {
      const rows = await sessionRows(databaseUrl);
      // The long agent reports running, one log line and 3 progress steps at once, then nothing until it is killed.
      return rows.some((row) => row.status === 'completed') && rows.some((row) => row.status === 'running' && row.last_sequence >= 5);
    }, 15_000);
    const eventOf = (sessionId: string) => JSON.parse(api.callbacks.requests.find((request) => request.path.endsWith(sessionId))!.body) as Record<string, unknown>;
    const longId = long.body.session.id;
    const shortId = short.body.session.id;
    const longToken = callbackTokenOf(api.callbacks, longId);
    const shortToken = callbackTokenOf(api.callbacks, shortId);
    expect(longToken.length).toBeGreaterThan(20);
    const longSecret = signingSecretOf(spawns, longId);
    const shortSecret = signingSecretOf(spawns, shortId);
    expect([longSecret, shortSecret]).toEqual([expect.stringMatching(/^whsec_/), expect.stringMatching(/^whsec_/)]);
    expect(longSecret).not.toBe(shortSecret);
    /** Standard Webhooks headers for `body`, signed with `secret` as `id` at `at`, with the maintained package. */
    const signed = (secret: string, id: string, body: string, at = new Date()) => ({
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, body),
    });
    const signedBy = (secret: string, body: string) => signed(secret, String((JSON.parse(body) as { event_id: unknown }).event_id), body);
    /** Signed as the orchestrator would sign it, when its event_id can be a header at all; so that a case refused is refused for what it varies, not for lacking a signature. */
    const signedIfSignable = (secret: string, body: string): Record<string, string> => {
      let id: unknown;
      try {
        id = (JSON.parse(body) as { event_id?: unknown } | null)?.event_id;
      } catch {
        return {};
      }
      return typeof id === 'string' && /^[\x20-\x7e]*$/.test(id) ? signed(secret, id, body) : {};
    };
    // Every request below that is not one of the hostile `answers`: operator keys made and revoked by the
    // administrator, and the checks that a credential still works, so that a refusal is due to what the case changed.
    let controls = 0;
    const control = async (what: string, method: string, path: string, headers: Record<string, string>, body: string | undefined, expected: number) => {
      const answer = await rawRequest(api.port, method, path, headers, body);
      controls += 1;
      expect([what, answer.status]).toEqual([what, expected]);
      return answer;
    };

    // Operator keys, made by the administrator before the snapshot: one per scope, one of two scopes, one of all
    // three (still no administrator), and one revoked after a request showed it worked.
    type Scope = 'read' | 'dispatch' | 'stop';
    const makeKey = async (name: string, scopes: Scope[]) => {
      const made = await call<{ id: string; key: string }>(api.service.url, 'POST', '/operator-keys', { name, scopes });
      controls += 1;
      expect(made.status).toBe(201);
      return { id: made.body.id, key: made.body.key, scopes };
    };
    const liveKeys = [
      await makeKey('hostile read', ['read']),
      await makeKey('hostile dispatch', ['dispatch']),
      await makeKey('hostile stop', ['stop']),
      await makeKey('hostile read+stop', ['read', 'stop']),
      await makeKey('hostile all scopes', ['read', 'dispatch', 'stop']),
    ];
    const revokedKey = await makeKey('hostile revoked', ['read', 'dispatch', 'stop']);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    await control('revoked key before its revoke', 'GET', '/orchestrator/sessions', bearer(revokedKey.key), undefined, 200);
    expect((await call(api.service.url, 'DELETE', `/operator-keys/${revokedKey.id}`)).status).toBe(200);
    controls += 1;
    // Each live key passes authentication and its scope's check: read lists, dispatch gets as far as the body's validation, stop as far as the unknown session.
    for (const key of liveKeys) {
      if (key.scopes.includes('read')) await control(`key with read`, 'GET', '/orchestrator/sessions', bearer(key.key), undefined, 200);
      if (key.scopes.includes('dispatch')) await control('key with dispatch', 'POST', '/tasks', { ...bearer(key.key), 'content-type': 'application/json' }, '{}', 400);
      if (key.scopes.includes('stop')) await control('key with stop', 'POST', `/orchestrator/sessions/${randomUUID()}/kill`, bearer(key.key), undefined, 404);
    }
    const keyHashes = (await query<{ key_hash: string }>(databaseUrl, 'SELECT key_hash FROM operator_keys')).map((row) => row.key_hash);
    expect(keyHashes).toHaveLength(liveKeys.length + 1);

    const snapshot = () => tablesDigest(databaseUrl, ['tasks', 'orchestrator_sessions', 'orchestrator_session_events', 'operator_keys']);

    const answers: { status: number; body: string; what: string }[] = [];
    const send = async (what: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string }) => {
      const answer = await rawRequest(api.port, options.method ?? 'POST', path, options.headers ?? {}, options.body);
      answers.push({ ...answer, what });
      return answer;
    };
    const callbackPath = (sessionId: string) => `/orchestrator/callbacks/${sessionId}`;
    const json = { 'content-type': 'application/json' };

    // Tokens: while the long session is live and its token valid, every wrong token is refused.
    const longEvent = JSON.stringify({ ...eventOf(longId), event_id: randomUUID(), sequence: 999 });
    const tampered = longToken.slice(0, -1) + (longToken.endsWith('A') ? 'B' : 'A');
    const before = await snapshot();
    const runs = Number(process.env.SYSTEM_FUZZ_RUNS ?? 150);

    // Callbacks PostgreSQL could not store: a NUL or an unpaired surrogate in any string, an exit code beyond
    // int32, a line of control characters past 16 KiB once escaped. First, while the long session's token is
    // valid, signed with its secret: each is the sender's mistake, a 400 naming the field, and nothing is stored.
    // Except an event_id with a NUL or a surrogate: no HTTP header can carry it as the webhook-id the signature
    // must name, so no such callback can be signed, and it gets the uniform 401.
    const [{ expires_at: longTokenExpiresAt }] = await query<{ expires_at: Date }>(
      databaseUrl,
      'SELECT callback_token_expires_at AS expires_at FROM orchestrator_sessions WHERE id = $1',
      [longId],
    );
    const longOrchestratorSessionId = String(eventOf(longId).session_id);
    const envelope = () => ({ event_id: randomUUID(), session_id: longOrchestratorSessionId, sequence: 1000, timestamp: new Date().toISOString() });
    const beyondInt32 = fc.maxSafeInteger().filter((value) => value > 2_147_483_647 || value < -2_147_483_648);
    // Six bytes each once JSON-escaped: 2,731 of them pass 16 KiB, 10,000 still fit the 64 KiB body.
    const controlLine = fc.string({ unit: fc.constantFrom(...'\u0001\u0002\u0007\u000b\u000e\u001b\u001f'), minLength: 2731, maxLength: 10_000 });
    const unstorableEvent = fc.oneof(
      fc.record({ field: fc.constantFrom('event_id', 'session_id'), text: unstorableTexts }).map(({ field, text }) => ({ ...envelope(), type: 'progress', data: { message: 'm' }, [field]: text })),
      unstorableTexts.map((line) => ({ ...envelope(), type: 'log', data: { stream: 'stdout', line } })),
      unstorableTexts.map((message) => ({ ...envelope(), type: 'progress', data: { message } })),
      fc.record({ field: fc.constantFrom('summary', 'error'), text: unstorableTexts }).map(({ field, text }) => ({ ...envelope(), type: 'result', status: 'running', data: { [field]: text } })),
      unstorableTexts.map((error) => ({ ...envelope(), type: 'status', status: 'running', data: { error } })),
      fc.record({ type: fc.constantFrom('status', 'result'), exitCode: beyondInt32 }).map(({ type, exitCode }) => ({ ...envelope(), type, status: 'running', data: { exit_code: exitCode } })),
      controlLine.map((line) => ({ ...envelope(), type: 'log', data: { stream: 'stderr', line } })),
    );
    let unstorableRefused = 0;
    let unsignable = 0;
    await fc.assert(
      fc.asyncProperty(unstorableEvent, async (body) => {
        expect(callbackEventSchema.safeParse(body).success).toBe(false);
        const text = JSON.stringify(body);
        const signable = /^[\x20-\x7e]*$/.test(body.event_id);
        if (!signable) unsignable += 1;
        const answer = await send('unstorable callback, valid token and signature', callbackPath(longId), {
          headers: { ...json, authorization: `Bearer ${longToken}`, ...signed(longSecret, signable ? body.event_id : randomUUID(), text) },
          body: text,
        });
        if (answer.status === 400) unstorableRefused += 1;
        const namesField = () => /^(event_id|session_id|data\.(line|message|summary|error|exit_code)): /.test((JSON.parse(answer.body) as { error: { message: string } }).error.message);
        // Past the token's lifetime, the uniform 401 is the right answer too.
        const expired = answer.status === 401 && Date.now() >= longTokenExpiresAt.getTime();
        return isContractError(answer.body) && (signable ? (answer.status === 400 && namesField()) || expired : answer.status === 401);
      }),
      { numRuns: runs },
    );
    expect(unstorableRefused).toBeGreaterThan(0);
    // Each signed with the secret of the session in its path, so that the token alone is wrong.
    const refusals: [string, string, string, string][] = [
      ['other session token', callbackPath(longId), shortToken, longSecret],
      ['other session token (reverse)', callbackPath(shortId), longToken, shortSecret],
      ['tampered token', callbackPath(longId), tampered, longSecret],
      ['truncated token', callbackPath(longId), longToken.slice(0, -4), longSecret],
      ['token of another session, its own URL unknown', callbackPath(randomUUID()), longToken, longSecret],
      ['operator token as callback token', callbackPath(longId), OPERATOR_TOKEN, longSecret],
      ['orchestrator key as callback token', callbackPath(longId), ORCHESTRATOR_KEY, longSecret],
    ];
    for (const [what, path, token, secret] of refusals) {
      const answer = await send(what, path, { headers: { ...json, authorization: `Bearer ${token}`, ...signedBy(secret, longEvent) }, body: longEvent });
      expect([what, answer.status]).toEqual([what, 401]);
    }
    await sleep(400);
    const shortEvent = JSON.stringify({ ...eventOf(shortId), event_id: randomUUID(), sequence: 999 });
    const revoked = await send('revoked token (terminal + grace)', callbackPath(shortId), {
      headers: { ...json, authorization: `Bearer ${shortToken}`, ...signedBy(shortSecret, shortEvent) },
      body: shortEvent,
    });
    expect(revoked.status).toBe(401);
    const bodies401 = new Set(answers.filter((answer) => answer.status === 401).map((answer) => answer.body));
    expect(bodies401.size).toBe(1);
    const [uniform401] = bodies401;

    // Signatures (Standard Webhooks). The long session was dispatched with a signing secret, so its callbacks need
    // its token and a valid signature. Each case below is a storable event with the valid token whose signature
    // alone is wrong: unsigned, garbage, another secret, another body, stamped more than 5 minutes off, or a
    // webhook-id that is not its event_id. Each must get the identical 401 and store nothing.
    const storableEvent = fc
      .record({ eventId: fc.uuid(), sequence: fc.integer({ min: 1000, max: 2_000_000_000 }), message: fc.string({ maxLength: 200 }) })
      .map(({ eventId, sequence, message }) => ({ event_id: eventId, session_id: longOrchestratorSessionId, sequence, type: 'progress', timestamp: new Date().toISOString(), data: { message } }));
    const randomSecret = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`);
    const MIN_SKEW_S = 5 * 60 + 5;
    const hostileSignatures: [string, fc.Arbitrary<{ body: string; headers: Record<string, string> }>][] = [
      ['unsigned', storableEvent.map((event) => ({ body: JSON.stringify(event), headers: {} }))],
      [
        'garbage signature headers',
        fc
          .record({
            event: storableEvent,
            // Mostly the right id and time (undefined), so that the signature is what is wrong.
            id: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: headerValue }),
            timestamp: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.oneof(headerValue, fc.integer().map(String)) }),
            signature: fc.oneof(
              headerValue,
              fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => `v1,${Buffer.from(bytes).toString('base64')}`),
              fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => `v1,${Buffer.from(bytes).toString('base64')}`), { minLength: 2, maxLength: 5 }).map((list) => list.join(' ')),
              // The right signature under another version label: only v1 counts.
              fc.constantFrom('v2,', 'V1,', 'v1;', 'v1 ', '', 'v1,v1,').map((label) => ({ label })),
            ),
          })
          .map(({ event, id, timestamp, signature }) => {
            const body = JSON.stringify(event);
            const genuine = signedBy(longSecret, body);
            return {
              body,
              headers: {
                'webhook-id': id ?? genuine['webhook-id'],
                'webhook-timestamp': timestamp ?? genuine['webhook-timestamp'],
                'webhook-signature': typeof signature === 'string' ? signature : genuine['webhook-signature'].replace(/^v1,/, signature.label),
              },
            };
          }),
      ],
      [
        'valid signature with another secret',
        // The other session's secret is not filtered out: were both sessions given one secret, this case must fail.
        fc.record({ event: storableEvent, secret: fc.oneof(randomSecret.filter((secret) => secret !== longSecret), fc.constant(shortSecret)) }).map(({ event, secret }) => {
          const body = JSON.stringify(event);
          return { body, headers: signedBy(secret, body) };
        }),
      ],
      [
        'valid signature over another body',
        // Another event, or the same one in other bytes (pretty-printed, a space or newline more): the signature
        // covers the bytes sent, not what they parse to. Either way round: sent the one, signed over the other.
        fc
          .record({ event: storableEvent, otherMessage: fc.string({ maxLength: 200 }), how: fc.constantFrom('other message', 'pretty-printed', 'trailing newline', 'leading space'), swap: fc.boolean() })
          .filter(({ event, otherMessage, how }) => how !== 'other message' || otherMessage !== event.data.message)
          .map(({ event, otherMessage, how, swap }) => {
            const compact = JSON.stringify(event);
            const other =
              how === 'other message' ? JSON.stringify({ ...event, data: { message: otherMessage } }) : how === 'pretty-printed' ? JSON.stringify(event, null, 2) : how === 'trailing newline' ? `${compact}\n` : ` ${compact}`;
            const [body, signedOver] = swap ? [other, compact] : [compact, other];
            return { body, headers: signed(longSecret, event.event_id, signedOver) };
          }),
      ],
      [
        'valid signature stamped more than 5 minutes off',
        fc.record({ event: storableEvent, skew: fc.integer({ min: MIN_SKEW_S, max: 10 * 365 * 24 * 3600 }), future: fc.boolean() }).map(({ event, skew, future }) => {
          const body = JSON.stringify(event);
          return { body, headers: signed(longSecret, event.event_id, body, new Date(Date.now() + (future ? 1 : -1) * skew * 1000)) };
        }),
      ],
      [
        'valid signature whose webhook-id is not the event_id',
        fc
          .record({ event: storableEvent, otherId: fc.oneof(fc.uuid(), headerValue, fc.constant('')) , upper: fc.boolean() })
          .map(({ event, otherId, upper }) => ({ event, otherId: upper ? event.event_id.toUpperCase() : otherId }))
          .filter(({ event, otherId }) => otherId !== event.event_id)
          .map(({ event, otherId }) => {
            const body = JSON.stringify(event);
            return { body, headers: signed(longSecret, otherId, body) };
          }),
      ],
    ];
    // An event the orchestrator did deliver, as it sent it: signed anew with the session's secret, it must still be
    // taken (a duplicate, which changes nothing), proving the token and the secret were good for the case before.
    const delivered = api.callbacks.requests.find((request) => request.path === callbackPath(longId))!.body;
    const stillAccepted = async (after: string) => {
      const answer = await control(`signed duplicate after "${after}"`, 'POST', callbackPath(longId), { ...json, ...bearer(longToken), ...signedBy(longSecret, delivered) }, delivered, 202);
      expect(JSON.parse(answer.body)).toEqual({ accepted: true, duplicate: true });
    };
    await stillAccepted('the properties before');
    const signatureRefusals: Record<string, number> = {};
    for (const [what, hostile] of hostileSignatures) {
      await fc.assert(
        fc.asyncProperty(hostile, async ({ body, headers }) => {
          expect(callbackEventSchema.safeParse(JSON.parse(body)).success).toBe(true);
          const answer = await send(`callback signature: ${what}`, callbackPath(longId), { headers: { ...json, ...bearer(longToken), ...headers }, body });
          expect({ what, status: answer.status, body: answer.body }).toEqual({ what, status: 401, body: uniform401 });
          signatureRefusals[what] = (signatureRefusals[what] ?? 0) + 1;
        }),
        { numRuns: runs },
      );
      await stillAccepted(what);
    }

    // Property-based: arbitrary bodies, headers and tokens. With the valid token only bodies the contract refuses.
    const notAnEvent = fc.anything().filter((value) => !callbackEventSchema.safeParse(value).success);
    const mutatedEvent = fc
      .record({ key: fc.constantFrom('event_id', 'session_id', 'sequence', 'type', 'status', 'timestamp', 'data'), value: fc.anything() })
      .map(({ key, value }) => ({ ...eventOf(longId), event_id: randomUUID(), [key]: value }))
      .filter((value) => !callbackEventSchema.safeParse(value).success);
    const anyToken = fc.oneof(headerValue, fc.constant(tampered), fc.constant(shortToken), headerValue.map((value) => longToken + value));
    await fc.assert(
      fc.asyncProperty(fc.oneof(notAnEvent, mutatedEvent), fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1'), async (body, contentType) => {
        const text = JSON.stringify(body) ?? 'undefined';
        const answer = await send('fuzzed body, valid token', callbackPath(longId), {
          headers: { 'content-type': contentType, authorization: `Bearer ${longToken}`, ...signedIfSignable(longSecret, text) },
          body: text,
        });
        return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
      }),
      { numRuns: runs },
    );
    await fc.assert(
      fc.asyncProperty(anyToken, fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }).map(encodeURIComponent)), fc.oneof(notAnEvent, fc.constant(JSON.parse(longEvent) as unknown)), async (token, sessionId, body) => {
        const answer = await send('fuzzed token and path', `/orchestrator/callbacks/${sessionId === '' ? 'x' : sessionId}`, {
          headers: { ...json, authorization: `Bearer ${token}` },
          body: JSON.stringify(body) ?? 'null',
        });
        return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
      }),
      { numRuns: runs },
    );
    // Without a valid token, an unstorable callback learns nothing: the identical 401, before its body can fail anything.
    // (HTTP drops the spaces around a header's value: the valid token with a space after it is the valid token.)
    await fc.assert(
      fc.asyncProperty(anyToken.filter((token) => token.trim() !== longToken), fc.constantFrom(longId, shortId, randomUUID()), unstorableEvent, async (token, sessionId, body) => {
        const text = JSON.stringify(body);
        const answer = await send('unstorable callback, no valid token', callbackPath(sessionId), {
          headers: { ...json, authorization: `Bearer ${token}`, ...signedIfSignable(sessionId === shortId ? shortSecret : longSecret, text) },
          body: text,
        });
        return answer.status === 401 && answer.body === uniform401;
      }),
      { numRuns: runs },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(undefined), headerValue, headerValue.map((value) => `Bearer ${value}`), fc.constant(`Bearer ${longToken}`)),
        fc.constantFrom<[string, string]>(['POST', '/tasks'], ['GET', '/orchestrator/sessions'], ['POST', `/tasks/${longTask}/dispatch`], ['POST', `/orchestrator/sessions/${longId}/kill`], ['GET', `/tasks/${longTask}`]),
        async (authorization, [method, path]) => {
          const answer = await send('operator endpoint, wrong token', path, {
            method,
            headers: { ...json, ...(authorization === undefined ? {} : { authorization }) },
            body: method === 'POST' ? '{"title":"hostile"}' : undefined,
          });
          return answer.status === 401 && isContractError(answer.body);
        },
      ),
      { numRuns: runs },
    );

    // Operator keys against every operator endpoint, on real targets (the running and the completed session and
    // their tasks, the keys themselves) or unknown ones, with bodies that would do something if let through.
    interface OperatorRequest {
      method: string;
      path: string;
      right: Scope | 'admin';
      body?: string;
    }
    const someTask = fc.oneof(fc.constantFrom(longTask, shortTask), fc.uuid());
    const someSession = fc.oneof(fc.constantFrom(longId, shortId), fc.uuid());
    const scopedRequest = fc.oneof(
      fc.string({ minLength: 1, maxLength: 100 }).map((title): OperatorRequest => ({ method: 'POST', path: '/tasks', right: 'dispatch', body: JSON.stringify({ title }) })),
      someTask.map((id): OperatorRequest => ({ method: 'GET', path: `/tasks/${id}`, right: 'read' })),
      someTask.map((id): OperatorRequest => ({ method: 'POST', path: `/tasks/${id}/dispatch`, right: 'dispatch', body: '{}' })),
      fc.constant<OperatorRequest>({ method: 'GET', path: '/orchestrator/sessions', right: 'read' }),
      someSession.map((id): OperatorRequest => ({ method: 'GET', path: `/orchestrator/sessions/${id}`, right: 'read' })),
      someSession.map((id): OperatorRequest => ({ method: 'POST', path: `/orchestrator/sessions/${id}/kill`, right: 'stop' })),
    );
    // Making a key (of any scopes: a way up to everything), listing the keys, revoking one (its own included).
    const adminRequest = fc.oneof(
      fc
        .record({ name: fc.string({ minLength: 1, maxLength: 100 }), scopes: fc.subarray<Scope>(['read', 'dispatch', 'stop'], { minLength: 1 }) })
        .map((body): OperatorRequest => ({ method: 'POST', path: '/operator-keys', right: 'admin', body: JSON.stringify(body) })),
      fc.constant<OperatorRequest>({ method: 'GET', path: '/operator-keys', right: 'admin' }),
      fc.oneof(fc.constantFrom(...liveKeys.map((key) => key.id), revokedKey.id), fc.uuid()).map((id): OperatorRequest => ({ method: 'DELETE', path: `/operator-keys/${id}`, right: 'admin' })),
    );
    const sendOperator = (what: string, request: OperatorRequest, token: string) =>
      send(what, request.path, { method: request.method, headers: { ...bearer(token), ...(request.body === undefined ? {} : json) }, body: request.body });
    const isInsufficientScope = (answer: { status: number; body: string }) => {
      if (answer.status !== 403 || !isContractError(answer.body)) return false;
      return (JSON.parse(answer.body) as { error: { code: string } }).error.code === 'insufficient_scope';
    };
    const operator401 = (await send('operator endpoint, no token', '/orchestrator/sessions', { method: 'GET' })).body;
    expect(isContractError(operator401)).toBe(true);
    // Credentials that are nobody's: random bearer tokens, mk_ and random text or 256 random bits, the revoked
    // key, a live key one character off, cut, extended or with its prefix in capitals, a key's stored hash.
    const liveKey = fc.constantFrom(...liveKeys.map((key) => key.key));
    const base64url = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const nearMiss = fc.record({ key: liveKey, at: fc.nat(), how: fc.constantFrom('changed', 'cut', 'extended', 'prefix in capitals') }).map(({ key, at, how }) => {
      const index = 3 + (at % (key.length - 3));
      if (how === 'changed') return key.slice(0, index) + base64url[(base64url.indexOf(key[index]) + 1 + (at % 63)) % 64] + key.slice(index + 1);
      if (how === 'cut') return key.slice(0, index);
      if (how === 'extended') return key + base64url[at % 64];
      return `MK_${key.slice(3)}`;
    });
    const nobodysToken = fc
      .oneof(
        headerValue,
        fc.oneof(headerValue, fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('base64url'))).map((value) => `mk_${value}`),
        fc.constant(revokedKey.key),
        nearMiss,
        fc.constantFrom(...keyHashes),
      )
      .filter((token) => token !== OPERATOR_TOKEN && !liveKeys.some((key) => key.key === token));
    await fc.assert(
      fc.asyncProperty(nobodysToken, fc.oneof(scopedRequest, adminRequest), async (token, request) => {
        const answer = await sendOperator('operator endpoint, nobody\'s key', request, token);
        return answer.status === 401 && answer.body === operator401;
      }),
      { numRuns: runs },
    );
    // A live key on an endpoint whose scope it lacks.
    await fc.assert(
      fc.asyncProperty(
        scopedRequest.chain((request) => fc.constantFrom(...liveKeys.filter((key) => !key.scopes.includes(request.right as Scope))).map((key) => ({ request, key }))),
        async ({ request, key }) => isInsufficientScope(await sendOperator('operator endpoint, key lacking the scope', request, key.key)),
      ),
      { numRuns: runs },
    );
    // No operator key, not even one of every scope, may make, list or revoke keys: that is the administrator's.
    await fc.assert(
      fc.asyncProperty(liveKey, adminRequest, async (key, request) => isInsufficientScope(await sendOperator('operator keys endpoint, operator key', request, key))),
      { numRuns: runs },
    );
    const operator = { ...json, authorization: `Bearer ${OPERATOR_TOKEN}` };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything().filter((value) => typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { title?: unknown }).title !== 'string'),
          fc.record({ title: fc.oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.array(fc.string())) }, { requiredKeys: [] }),
          fc.record({ title: fc.constant('x'), priority: fc.oneof(fc.string().filter((value) => !(TASK_PRIORITIES as readonly string[]).includes(value)), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(-1)) }),
        ),
        async (body) => {
          const answer = await send('POST /tasks, invalid body', '/tasks', { headers: operator, body: JSON.stringify(body) ?? 'null' });
          return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
        },
      ),
      { numRuns: runs },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ limit: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 501 }), fc.stringMatching(/^[a-z]{1,10}$/)) }).map(({ limit }) => `limit=${encodeURIComponent(String(limit))}`),
          fc.string({ minLength: 1 }).filter((value) => !['pending', 'running', 'completed', 'failed', 'killed', 'spawning'].includes(value)).map((value) => `status=${encodeURIComponent(value)}`),
          fc.string({ minLength: 1, maxLength: 60 }).map((value) => `cursor=${encodeURIComponent(value)}`),
        ),
        async (search) => {
          const answer = await send('GET /orchestrator/sessions, invalid query', `/orchestrator/sessions?${search}`, { method: 'GET', headers: operator });
          return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
        },
      ),
      { numRuns: runs },
    );
    // A well-formed cursor with a time no session can have: year 0, a negative year, past 9999.
    const forgedCursor = fc
      .record({
        year: fc.oneof(fc.constant(0), fc.integer({ min: -271_820, max: -1 }), fc.integer({ min: 10_000, max: 275_759 })),
        month: fc.integer({ min: 1, max: 12 }),
        day: fc.integer({ min: 1, max: 28 }),
        id: fc.uuid(),
      })
      .map(({ year, month, day, id }) => Buffer.from(`${isoYear(year)}-${twoDigits(month)}-${twoDigits(day)}T00:00:00.000Z|${id}`, 'utf8').toString('base64url'));
    await fc.assert(
      fc.asyncProperty(forgedCursor, async (cursor) => {
        const answer = await send('GET /orchestrator/sessions, forged cursor', `/orchestrator/sessions?cursor=${cursor}`, { method: 'GET', headers: operator });
        return answer.status === 400 && isContractError(answer.body);
      }),
      { numRuns: runs },
    );
    // A NUL or an unpaired surrogate in a task's title, or anywhere in its metadata, keys included.
    const unstorableTask = fc.oneof(
      unstorableTexts.map((title) => ({ title })),
      fc.record({ key: unstorableTexts, value: fc.string() }).map(({ key, value }) => ({ title: 'hostile', metadata: { [key]: value } })),
      fc
        .record({ path: fc.array(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 10 }), value: unstorableTexts })
        .map(({ path, value }) => ({ title: 'hostile', metadata: path.reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), { note: value }) })),
    );
    await fc.assert(
      fc.asyncProperty(unstorableTask, async (body) => {
        const answer = await send('POST /tasks, unstorable text', '/tasks', { headers: operator, body: JSON.stringify(body) });
        return answer.status === 400 && isContractError(answer.body);
      }),
      { numRuns: runs },
    );
    // Metadata nested up to 50,000 levels: arrays nest in 2 bytes a level, so even that fits the 256 KiB body limit.
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(50_000), fc.integer({ min: 33, max: 50_000 })), async (depth) => {
        const answer = await send('POST /tasks, deep metadata', '/tasks', {
          headers: operator,
          body: `{"title":"deep","metadata":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
        });
        return answer.status === 400 && isContractError(answer.body);
      }),
      { numRuns: runs },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 60 }).filter((value) => !/^\.+$/.test(value)).map(encodeURIComponent)), fc.constantFrom('dispatch', 'kill', 'get', 'task'), async (id, action) => {
        const [method, path] =
          action === 'dispatch' ? ['POST', `/tasks/${id}/dispatch`] : action === 'kill' ? ['POST', `/orchestrator/sessions/${id}/kill`] : action === 'get' ? ['GET', `/orchestrator/sessions/${id}`] : ['GET', `/tasks/${id}`];
        const answer = await send('unknown ids', path, { method, headers: operator });
        return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
      }),
      { numRuns: runs },
    );
    const oversized = await send('callback body over 64 KiB', callbackPath(longId), {
      headers: { ...json, authorization: `Bearer ${longToken}` },
      body: JSON.stringify({ ...JSON.parse(longEvent), data: { message: 'x'.repeat(70 * 1024) } }),
    });
    expect(oversized.status).toBe(413);
    const malformed = await send('malformed JSON', callbackPath(longId), { headers: { ...json, authorization: `Bearer ${longToken}` }, body: '{"event_id":' });
    expect(malformed.status).toBe(400);

    const serverErrors = answers.filter((answer) => answer.status >= 500);
    expect(serverErrors.slice(0, 5)).toEqual([]);
    expect(answers.filter((answer) => !isContractError(answer.body)).slice(0, 5)).toEqual([]);
    expect(await snapshot()).toBe(before);

    // Expiry: past its lifetime, the long session's own token is refused too, with a valid signature.
    await waitUntil('token expired', async () => {
      const rows = await query<{ expired: boolean }>(databaseUrl, 'SELECT callback_token_expires_at < now() AS expired FROM orchestrator_sessions WHERE id = $1', [longId]);
      return rows[0].expired;
    }, tokenTtlMs + 10_000);
    const expired = await send('expired token', callbackPath(longId), { headers: { ...json, authorization: `Bearer ${longToken}`, ...signedBy(longSecret, longEvent) }, body: longEvent });
    expect(expired.status).toBe(401);
    expect(await snapshot()).toBe(before);

    expect((await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${longId}/kill`)).body.status).toBe('killed');
    await h.assertNoAgentsLeft(5_000);
    const callbackTokenHashes = (await query<{ hash: string | null }>(databaseUrl, 'SELECT callback_token_hash AS hash FROM orchestrator_sessions')).flatMap((row) => (row.hash === null ? [] : [row.hash]));
    // Searched without their prefixes (whsec_, mk_), so a secret printed bare is found too.
    const secrets = [
      longToken,
      shortToken,
      tampered,
      OPERATOR_TOKEN,
      ORCHESTRATOR_KEY,
      CALLBACK_SIGNING_KEY,
      ...[longSecret, shortSecret].map((secret) => secret.slice('whsec_'.length)),
      ...[...liveKeys, revokedKey].map((key) => key.key.slice('mk_'.length)),
      ...keyHashes,
      ...callbackTokenHashes,
    ];
    const logs = `${api.service.output()}\n${orchestrator.service.output()}`;
    expect(secrets.filter((secret) => logs.includes(secret))).toEqual([]);
    const countOf = (what: string) => answers.filter((answer) => answer.what === what).length;
    report({
      load: '1 running and 1 completed session',
      faults: 'hostile requests only',
      inputs: `${answers.length} requests: ${refusals.length + 2} targeted token cases (other session's, tampered, truncated, expired, revoked, operator/orchestrator secrets; each validly signed), ${runs} fast-check runs each of ${11 + hostileSignatures.length + 3} properties (callback bodies; unstorable callbacks (NUL, unpaired surrogates, exit_code beyond int32, lines of control characters past 16 KiB encoded) with and without a valid token; callback signatures of a signed session with its valid token: ${hostileSignatures.map(([what]) => what).join(', ')}; callback tokens/paths/headers; operator tokens; operator keys on every operator endpoint: nobody's (random bearer, mk_ and random text or 256 random bits, revoked, a live key one character off, cut, extended or in capitals, a key's stored hash), a live key lacking the endpoint's scope, any operator key (all three scopes included) making, listing or revoking keys; task bodies; task title and metadata with NUL or unpaired surrogates; metadata nested 33 to 50,000 levels; list queries; forged cursors of year 0, negative or past 9999; unknown ids), oversized and malformed bodies; besides, ${controls} control requests (keys made and revoked by the administrator, each key and a correctly signed callback shown to work) that are not counted here`,
      sent: answers.length,
      stored: 0,
      lost: 0,
      duplicated: 0,
      notes: `answers by status: ${describeStatuses(answers.map((answer) => answer.status))}; ${unstorableRefused} of ${runs} unstorable callbacks with the valid token and signature answered 400 naming the field, ${unsignable} whose event_id no header can carry (so no signature can name it) the uniform 401, ${runs - unstorableRefused - unsignable} 401 after the token expired; every hostile signature answered the identical 401 while the token was valid (${hostileSignatures.map(([what]) => `${what} ${signatureRefusals[what] ?? 0}`).join(', ')}), a correctly signed duplicate accepted (202) before the first case and after each; operator keys: ${countOf("operator endpoint, nobody's key")} requests with nobody's key answered the identical 401, ${countOf('operator endpoint, key lacking the scope')} with a key lacking the scope and ${countOf('operator keys endpoint, operator key')} by operator keys on /operator-keys answered 403 insufficient_scope; no 5xx; every answer in the contract's error shape; database digest (tasks, sessions, events, operator keys) unchanged; every refused token answered the identical 401 body; none of ${secrets.length} secrets (callback tokens and their hashes, operator token, orchestrator key, signing key, both sessions' signing secrets, ${liveKeys.length + 1} operator keys and their hashes) found in ${logs.split('\n').length} log lines.`,
    });
  });

  /**
   * 11 (and 14 on Redis): three nodes of capacity 2 behind one API drain a queue of 30. Sampling every node's
   * /health proves the capacity; the API's stored events prove each agent started once; their timestamps
   * (the orchestrator's) prove the urgent one overtook the low ones waiting when it came.
   */
  async function queueOfThirty(h: SystemHarness, report: (values: Figures) => void, store: { name: string; env: Record<string, string | undefined> }) {
    const databaseUrl = await h.database();
    const capacity = 2;
    const nodes = await h.cluster({ nodes: 3, capacity, env: store.env });
    const api = await h.api({
      databaseUrl,
      orchestratorUrl: nodes.map((node) => node.service.url).join(','),
      env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000', RECONCILE_STALE_AFTER_MS: '60000' },
    });
    // About three seconds each: long enough that a good part of the 29 low ones still waits when the urgent one comes,
    // even when dispatching them takes seconds on a busy machine.
    const agent = { sample_agent: { steps: 3, step_ms: 1_000 } };
    const lowTasks: string[] = [];
    for (let index = 0; index < 29; index++) lowTasks.push(await createTask(api, agent, { priority: 'low' }));
    const urgentTask = await createTask(api, agent, { priority: 'urgent' });

    let sampling = true;
    const busiest = new Map(nodes.map((node) => [node.nodeId, 0]));
    let samples = 0;
    const sampler = (async () => {
      while (sampling) {
        const healths = await Promise.all(nodes.map((node) => call<{ active_sessions: number }>(node.service.url, 'GET', '/health')));
        healths.forEach((health, index) => busiest.set(nodes[index].nodeId, Math.max(busiest.get(nodes[index].nodeId)!, health.body.active_sessions)));
        samples += 1;
        await sleep(25);
      }
    })();
    let lows: Awaited<ReturnType<typeof dispatch>>[];
    let urgent: Awaited<ReturnType<typeof dispatch>>;
    let waitingBefore: string[];
    let urgentQueuedAt: number;
    try {
      lows = await Promise.all(lowTasks.map((taskId) => dispatch(api, taskId)));
      expect(lows.map((answer) => answer.status)).toEqual(lowTasks.map(() => 202));
      // Which low ones still wait, as the cluster sees it, just before the urgent one is dispatched.
      const pending = await call<{ sessions: { session_id: string }[] }>(nodes[0].service.url, 'GET', '/orchestrator/sessions?status=pending&limit=500', undefined, ORCHESTRATOR_KEY);
      waitingBefore = pending.body.sessions.map((session) => session.session_id);
      urgent = await dispatch(api, urgentTask);
      urgentQueuedAt = Date.now();
      expect(urgent.status).toBe(202);
      await waitForAllTerminal(databaseUrl, 30, 150_000);
    } finally {
      sampling = false;
      await sampler.catch(() => undefined);
    }
    const rows = await query<{ id: string; orchestrator_session_id: string; status: string; node: string | null; priority: string }>(
      databaseUrl,
      'SELECT s.id::text, s.orchestrator_session_id, s.status::text AS status, s.node, t.priority::text AS priority FROM orchestrator_sessions s JOIN tasks t ON t.id = s.task_id',
    );
    expect(rows).toHaveLength(30);
    expect(rows.map((row) => row.status)).toEqual(rows.map(() => 'completed'));
    expect([...busiest.values()].every((most) => most <= capacity)).toBe(true);
    expect(Math.max(...busiest.values())).toBe(capacity);
    const byNode = countBy(rows.map((row) => row.node ?? 'none'));
    expect(Object.keys(byNode).sort()).toEqual(nodes.map((node) => node.nodeId).sort());
    // Each agent started once: one `running` status event and one start line per session, one start on record per session.
    const starts = await query<{ session_id: string; running: number; start_lines: number; running_at: Date }>(
      databaseUrl,
      `SELECT e.session_id::text,
              count(*) FILTER (WHERE e.type = 'status' AND e.status = 'running')::int AS running,
              count(*) FILTER (WHERE e.type = 'log' AND e.data->>'line' LIKE 'sample agent working on task %')::int AS start_lines,
              min(e.occurred_at) FILTER (WHERE e.type = 'status' AND e.status = 'running') AS running_at
         FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} GROUP BY e.session_id`,
    );
    expect(starts.map((row) => [row.running, row.start_lines])).toEqual(rows.map(() => [1, 1]));
    expect(nodes[0].starts()).toHaveLength(30);
    expect(new Set(nodes[0].starts()).size).toBe(30);
    // The low ones still waiting when the urgent one was queued, and not started by then (a slot handed out as it was
    // queued may go either way: 250 ms of margin), start after it. A start is a node's claim, not the queue's hand-out:
    // a node slow to claim the urgent one lets the other nodes claim the low ones they were handed meanwhile, at most
    // one per slot of theirs. With the priority ignored, every one of them would start before it.
    const startedAt = new Map(rows.map((row) => [row.orchestrator_session_id, starts.find((start) => start.session_id === row.id)!.running_at.getTime()]));
    const urgentStartedAt = startedAt.get(urgent.body.session.orchestrator_session_id!)!;
    const overtaken = waitingBefore.filter((id) => startedAt.get(id)! >= urgentQueuedAt + 250);
    const otherNodesSlots = (nodes.length - 1) * capacity;
    expect(overtaken.length).toBeGreaterThan(2 * otherNodesSlots);
    const beforeUrgent = overtaken.filter((id) => startedAt.get(id)! < urgentStartedAt);
    expect(beforeUrgent.length).toBeLessThanOrEqual(otherNodesSlots);
    const lowsAfter = rows.filter((row) => row.priority === 'low' && startedAt.get(row.orchestrator_session_id)! > urgentStartedAt).length;
    const account = await settledAccount(databaseUrl, [api.callbacks]);
    expectNothingLost(account);
    expect(await gappedSessions(databaseUrl)).toEqual([]);
    await h.assertNoAgentsLeft(10_000);
    const slowest = Math.max(...[...lows, urgent].map((answer) => answer.ms));
    report({
      load: `30 tasks dispatched at once (29 low, then 1 urgent) to 3 nodes of capacity ${capacity} (${store.name} queue store), the API pointed at all three`,
      faults: 'none (queueing and priority only)',
      inputs: '30 dispatch calls',
      ...eventFigures(account),
      notes: `all 30 completed; sessions per node ${Object.entries(byNode).map(([node, count]) => `${node} ${count}`).join(', ')}; most active sessions seen on one node ${Math.max(...busiest.values())} (${samples} samples of every node's /health, bound ${capacity}); one running status and one start line per session, 30 agent starts for 30 sessions; ${waitingBefore.length} low ones were waiting when the urgent one was dispatched, ${overtaken.length} of them started ≥ 250 ms after it was queued, ${overtaken.length - beforeUrgent.length} after the urgent one and ${beforeUrgent.length} just before it, claimed by other nodes while its node was claiming it (bound ${otherNodesSlots}) (the urgent one started ${Math.abs(urgentStartedAt - urgentQueuedAt)} ms ${urgentStartedAt >= urgentQueuedAt ? 'after' : 'before'} its dispatch answer reached the client; ${lowsAfter} low ones in all started after it); slowest dispatch answer ${slowest} ms.`,
    });
  }

  scenario('11. Queue of 30 on three nodes of capacity 2', (h, report) => queueOfThirty(h, report, { name: 'PostgreSQL', env: { QUEUE_URL: undefined } }));

  scenario('12. Node lost, API pointed at all three nodes', async (h, report) => {
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
    await waitUntil('six long sessions running', async () => (await apiRows()).filter((row) => row.status === 'running').length === 6, 60_000);
    for (let index = 0; index < 3; index++) await dispatchNew(shortAgent);
    const before = await apiRows();
    expect(countBy(before.filter((row) => row.status === 'running').map((row) => row.node ?? 'none'))).toEqual({ 'node-0': 2, 'node-1': 2, 'node-2': 2 });

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
    expect((await apiRows()).filter((row) => lostSessions.includes(row.id)).map((row) => [row.status, row.error])).toEqual(lostSessions.map(() => ['failed', 'node_lost']));
    expect(dispatches.filter((answer) => answer.status !== 202).map((answer) => [answer.status, answer.body])).toEqual([]);
    const health = await call<{ nodes: { id: string }[] }>(nodes[1].service.url, 'GET', '/health');
    expect(health.body.nodes.map((node) => node.id).sort()).toEqual(['node-1', 'node-2']);

    // Room for the queue on the live nodes: one long session ended on each; the queued ones run there.
    const survivors = (await apiRows()).filter((row) => row.long && row.status === 'running');
    expect(survivors.map((row) => row.node).sort()).toEqual(['node-1', 'node-1', 'node-2', 'node-2']);
    const firstKills = [survivors.find((row) => row.node === 'node-1')!, survivors.find((row) => row.node === 'node-2')!];
    for (const row of firstKills) expect((await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${row.id}/kill`)).body.status).toBe('killed');
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
    expect(countBy(rows.map((row) => `${row.status}${row.error === 'node_lost' ? '/node_lost' : ''}`))).toEqual({ 'failed/node_lost': 2, killed: 4, completed: shortCount });
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
      notes: `every dispatch answered 202 (slowest ${slowest} ms), none failed while node-0 was gone; node-0's ${lostSessions.length} sessions ended failed (node_lost) in the API ${lostAfterMs} ms after the kill (bound ${nodeLostAfterMs + 10_000} ms); all ${shortCount} queued sessions completed on node-1 and node-2 (${Object.entries(countBy(shorts.map((row) => row.node ?? 'none'))).map(([node, count]) => `${node} ${count}`).join(', ')}); the 4 long survivors killed through the API; nothing left running or pending; no agent process left.`,
    });
  });

  scenario('13. Cancel timing', async (h, report) => {
    const databaseUrl = await h.database();
    const orchestrator = await h.orchestrator();
    const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: { RECONCILE_STALE_AFTER_MS: '60000' } });
    const measured: { what: string; graceMs: number; ms: number; tree: number }[] = [];
    // Each agent starts a child that starts a grandchild, all in the agent's process group, under the agent's supervisor: a tree of four.
    const cases = [
      { what: 'exits on SIGTERM', graceMs: 10_000, agent: { steps: 1, duration_ms: 170_000, children: 1 }, line: 'sample agent: got SIGTERM, stopping' },
      { what: 'ignores SIGTERM', graceMs: 2_000, agent: { steps: 1, duration_ms: 170_000, children: 1, ignore_sigterm: true }, line: 'sample agent: got SIGTERM, ignoring it as the task asked' },
    ];
    for (const { what, graceMs, agent, line } of cases) {
      const dispatched = await dispatch(api, await createTask(api, { sample_agent: agent }));
      expect(dispatched.status).toBe(202);
      const id = dispatched.body.session.id;
      const logged = (text: string) => async () =>
        (await query(databaseUrl, `SELECT 1 FROM orchestrator_session_events e WHERE session_id = $1 AND type = 'log' AND data->>'line' LIKE $2`, [id, `${text}%`])).length > 0;
      await waitUntil(`${what}: children started`, logged('started child processes'), 60_000);
      // The child starts the grandchild after the agent has logged the child's pid.
      await waitUntil(`${what}: grandchild started`, () => h.sampleAgentsOf(orchestrator.service).length === 4, 10_000);
      const tree = h.sampleAgentsOf(orchestrator.service);
      expect(tree).toHaveLength(4);
      const cancelled = await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${id}/cancel`, { grace_ms: graceMs });
      // The answer comes when the tree is gone: read the process table at once.
      const alive = liveProcesses().filter((info) => tree.includes(info.pid));
      expect([what, cancelled.status, cancelled.body.status]).toEqual([what, 200, 'cancelled']);
      expect(alive.map((info) => `${info.pid} ${info.command}`)).toEqual([]);
      expect(liveDescendants(orchestrator.service.pid)).toEqual([]);
      measured.push({ what, graceMs, ms: cancelled.ms, tree: tree.length });
      await waitUntil(`${what}: SIGTERM logged`, logged(line), 10_000);
    }
    const [clean, deaf] = measured;
    // Well before its 10 s grace: SIGTERM, a clean exit, and the callbacks on the way.
    expect(clean.ms).toBeLessThan(3_000);
    // The grace is waited for in full, then SIGKILL: 2 s ± 1 s.
    expect(deaf.ms).toBeGreaterThanOrEqual(1_000);
    expect(deaf.ms).toBeLessThanOrEqual(3_000);
    const rows = await waitForAllTerminal(databaseUrl, 2, 10_000);
    expect(rows.map((row) => row.status)).toEqual(['cancelled', 'cancelled']);
    for (const row of rows) expect((await orchestratorStatus(orchestrator, row.orchestrator_session_id!)).status).toBe('cancelled');
    const again = await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${rows[0].id}/cancel`, {});
    expect([again.status, again.body.status]).toEqual([200, 'cancelled']);
    const account = await settledAccount(databaseUrl, [api.callbacks]);
    expectNothingLost(account);
    expect(await gappedSessions(databaseUrl)).toEqual([]);
    await h.assertNoAgentsLeft(1_000);
    report({
      load: '2 running sessions, one after the other, each an agent with a child and a grandchild, under its supervisor',
      faults: 'graceful cancels through the API',
      inputs: '2 cancels (grace 10 s, grace 2 s) and 1 repeated cancel',
      ...eventFigures(account),
      notes: `${measured.map((entry) => `agent that ${entry.what}, grace ${entry.graceMs} ms: answered 200 cancelled in ${entry.ms} ms`).join('; ')} (bounds < 3000 ms and 2000 ± 1000 ms); at each answer none of the ${clean.tree} processes of the tree was alive in the process table; each agent logged the SIGTERM it got; a repeated cancel answered 200 cancelled.`,
    });
  });

  if (process.env.TEST_REDIS_URL) {
    const redis = process.env.TEST_REDIS_URL;
    scenario('14. Queue of 30 on three nodes of capacity 2, on Redis', (h, report) => queueOfThirty(h, report, { name: 'Redis', env: { QUEUE_URL: redis } }));
  }

  scenario('15. A budget crossed by 20 sessions at once, through two API instances', async (h, report) => {
    const databaseUrl = await h.database();
    const orchestrator = await h.orchestrator({ env: { MAX_CONCURRENT_SESSIONS: '20' } });
    const proxy = await h.proxy(orchestrator.port);
    const env = { BUDGET_CANCEL_GRACE_MS: '5000', RECONCILE_STALE_AFTER_MS: '60000', ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000' };
    // Half the sessions report to one API instance, half to the other: both see crossings at the same moments.
    const apis = [await h.api({ databaseUrl, orchestratorUrl: proxy.url, env }), await h.api({ databaseUrl, orchestratorUrl: proxy.url, env })];
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
    const account = await settledAccount(databaseUrl, apis.map((api) => api.callbacks));
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
  });

  scenario('16. Redis restarted mid-load, cluster on Redis', redisRestartedMidLoad);

  scenario('17. PostgreSQL restarted under the orchestrator, cluster on PostgreSQL', postgresRestartedUnderOrchestrator);

  scenario('18. A node lost while its sessions stream events to 50 stream clients', nodeLostWhileStreaming);

  scenario('19. Rolling deploy: 1,000 queued sessions, three nodes restarted one after another', rollingDeploy);

  scenario('20. Hostile input against the new endpoints', hostileInputAgainstNewEndpoints);
});

/** An ISO-8601 year as `Date` writes it: four digits, or six with a sign outside 0..9999. */
function isoYear(year: number): string {
  if (year >= 0 && year <= 9999) return String(year).padStart(4, '0');
  return `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
}

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function countBy(values: readonly (string | number)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
