import { callbackEventSchema, errorBodySchema, type CallbackEvent } from '@mosaic/orchestrator-contract';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerInTurn, CallbackReceiver, type CallbackEndpoint } from '../support/callback-receiver';
import { eventually } from '../support/eventually';
import { request, type HttpAnswer, type HttpRequest } from '../support/http';
import { isAlive, liveDescendants, waitForNoProcesses } from '../support/process-table';
import { killProcessTrees, startService, withServiceOutput, type ServiceProcess, stopLeavingNoProcesses } from '../support/service-process';

const ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_KEY = 'e2e-orchestrator-key';

function call(service: ServiceProcess, method: string, path: string, options: Omit<HttpRequest, 'token'> = {}): Promise<HttpAnswer> {
  return request(method, `${service.url}${path}`, { token: API_KEY, ...options });
}

function spawnBody(endpoint: CallbackEndpoint, sampleAgent: Record<string, unknown> = {}, token = 'callback-token-1') {
  return {
    task: { id: `task-${randomUUID()}`, title: 'An e2e task', metadata: { sample_agent: sampleAgent } },
    context: { schema_version: 1 },
    callback_url: endpoint.url,
    callback_token: token,
  };
}

/** Spawns and waits until the queue has handed the session to an agent (or it already ended). */
async function spawn(service: ServiceProcess, body: unknown, key: string = randomUUID()): Promise<string> {
  const answer = await call(service, 'POST', '/orchestrator/sessions/spawn', { body, headers: { 'idempotency-key': key } });
  expect(answer).toMatchObject({ status: 201, body: { status: 'pending' } });
  await waitForStatus(service, answer.body.session_id, ['running', 'completed', 'failed', 'killed', 'cancelled']);
  return answer.body.session_id;
}

function waitForStatus(service: ServiceProcess, id: string, statuses: string[], timeoutMs = 15_000): Promise<HttpAnswer['body']> {
  return eventually(async () => {
    const answer = await call(service, 'GET', `/orchestrator/sessions/${id}/status`);
    expect(statuses).toContain(answer.body.status);
    return answer.body;
  }, timeoutMs);
}

const isTerminalEvent = (event: CallbackEvent) =>
  event.type === 'status' && ['completed', 'failed', 'killed', 'cancelled'].includes(event.status ?? '');
const hasTerminal = (endpoint: CallbackEndpoint) => () => endpoint.accepted<CallbackEvent>().some(isTerminalEvent);

function expectErrorBody(answer: HttpAnswer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(errorBodySchema.safeParse(answer.body).success).toBe(true);
  expect(answer.body.error.code).toBe(code);
  expect(JSON.stringify(answer.body)).not.toMatch(/\bat .*\.(js|ts):\d+/);
}

beforeAll(() => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`pnpm build\` first`);
});

describe('orchestrator (built service)', () => {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver;
  const running = () => service!;
  const serviceTest = (name: string, body: () => Promise<void>, timeoutMs = 30_000) =>
    it(
      name,
      withServiceOutput(() => [service], body),
      timeoutMs,
    );

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    service = await startService({
      name: 'orchestrator',
      entry: ENTRY,
      env: {
        ORCHESTRATOR_API_KEY: API_KEY,
        MAX_CONCURRENT_SESSIONS: '8',
        LOG_LINES_PER_SECOND: '5',
        CALLBACK_RETRY_MAX_MS: '10000',
        AGENT_COMMAND: undefined,
        CODEX_PATH: '/nonexistent/bin/codex',
      },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
  });

  serviceTest('GET /health answers without a key', async () => {
    const answer = await request('GET', `${running().url}/health`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: 'ok',
      version: expect.any(String),
      active_sessions: expect.any(Number),
      node: expect.any(String),
      queued_sessions: 0,
      nodes: [{ id: expect.any(String), active_sessions: expect.any(Number), capacity: 8 }],
    });
  });

  serviceTest('a spawned agent reports in order, with gapless sequences, and ends completed', async () => {
    const endpoint = receiver.endpoint();
    const id = await spawn(running(), spawnBody(endpoint, { steps: 3, stderr: ['a warning'] }, 'token-happy'));
    await endpoint.waitFor(hasTerminal(endpoint));

    const events = endpoint.accepted<CallbackEvent>();
    for (const event of events) expect(callbackEventSchema.safeParse(event).error).toBeUndefined();
    expect(endpoint.received.every((callback) => callback.headers.authorization === 'Bearer token-happy')).toBe(true);
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    expect(new Set(events.map((event) => event.event_id)).size).toBe(events.length);
    expect(events.every((event) => event.session_id === id)).toBe(true);
    expect(events[0]).toMatchObject({ type: 'status', status: 'running' });
    expect(events.filter((event) => event.type === 'progress').map((event) => event.data)).toEqual([
      { message: 'step 1 of 3', percent: 33 },
      { message: 'step 2 of 3', percent: 67 },
      { message: 'step 3 of 3', percent: 100 },
    ]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'log', data: { stream: 'stderr', line: 'a warning' } }));
    expect(events.at(-2)).toMatchObject({ type: 'result', status: 'running', data: { exit_code: 0 } });
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'completed', data: { exit_code: 0 } });

    const status = await call(running(), 'GET', `/orchestrator/sessions/${id}/status`);
    expect(status.body).toMatchObject({
      session_id: id,
      status: 'completed',
      exit_code: 0,
      started_at: expect.any(String),
      ended_at: expect.any(String),
    });
  });

  serviceTest('(v3) refuses an agent kind whose program is missing, or no kind at all, naming it; nothing is queued', async () => {
    const endpoint = receiver.endpoint();
    const base = spawnBody(endpoint);
    const spawnWith = (agent: unknown) =>
      call(running(), 'POST', '/orchestrator/sessions/spawn', {
        body: { ...base, task: { ...base.task, agent }, context: { schema_version: 2 } },
        headers: { 'idempotency-key': randomUUID() },
      });

    const missing = await spawnWith({ kind: 'codex', model: 'gpt-5-codex' });
    expectErrorBody(missing, 400, 'agent_unavailable');
    expect(missing.body.error.message).toBe(
      'agent.kind: the codex agent\'s program "/nonexistent/bin/codex" is not installed on this orchestrator (CODEX_PATH)',
    );
    const unknown = await spawnWith({ kind: 'copilot' });
    expectErrorBody(unknown, 400, 'bad_request');
    expect(unknown.body.error.message).toMatch(/^task\.agent\.kind: /);
    const list = await call(running(), 'GET', '/orchestrator/sessions?status=pending');
    expect(list.body.sessions).toEqual([]);
  });

  serviceTest('an agent that exits non-zero ends failed with its exit code', async () => {
    const endpoint = receiver.endpoint();
    const id = await spawn(running(), spawnBody(endpoint, { steps: 1, exit_code: 3 }));
    await endpoint.waitFor(hasTerminal(endpoint));
    expect(endpoint.accepted<CallbackEvent>().at(-1)).toMatchObject({ type: 'status', status: 'failed', data: { exit_code: 3 } });
    expect((await call(running(), 'GET', `/orchestrator/sessions/${id}/status`)).body).toMatchObject({ status: 'failed', exit_code: 3 });
  });

  serviceTest('log lines over the rate limit are dropped and counted, not sent', async () => {
    const endpoint = receiver.endpoint();
    await spawn(running(), spawnBody(endpoint, { steps: 0, log_lines: 200 }));
    await endpoint.waitFor(hasTerminal(endpoint));
    const logs = endpoint
      .accepted<CallbackEvent>()
      .filter((event) => event.type === 'log')
      .map((event) => (event.data as { line: string }).line);
    const notices = logs.filter((line) => line.startsWith('orchestrator: '));
    const dropped = notices.reduce((sum, line) => sum + Number(/(\d+) log line/.exec(line)?.[1]), 0);
    expect(dropped).toBeGreaterThan(0);
    // The agent prints one greeting and 200 numbered lines: each was either sent or counted as dropped.
    expect(logs.length - notices.length + dropped).toBe(201);
  });

  serviceTest('kill takes down the agent and every process it started, then answers killed', async () => {
    const endpoint = receiver.endpoint();
    const id = await spawn(running(), spawnBody(endpoint, { steps: 1, duration_ms: 60_000, children: 2 }));
    await endpoint.waitFor((received) => received.some((callback) => JSON.stringify(callback.body).includes('started child processes')));
    // Agent, its 2 children and their 2 grandchildren (plus a shell, when it does not exec).
    const tree = await eventually(() => {
      const descendants = liveDescendants(running().pid);
      expect(descendants.length).toBeGreaterThanOrEqual(5);
      return descendants;
    }, 5_000);

    const killed = await call(running(), 'POST', `/orchestrator/sessions/${id}/kill`);
    expect(killed).toMatchObject({ status: 200, body: { session_id: id, status: 'killed' } });
    // Checked without waiting: the answer is only sent once the processes are gone.
    await waitForNoProcesses(
      tree.map((info) => info.pid),
      0,
    );

    expect((await call(running(), 'POST', `/orchestrator/sessions/${id}/kill`)).body).toEqual({ session_id: id, status: 'killed' });
    await endpoint.waitFor(hasTerminal(endpoint));
    expect(endpoint.accepted<CallbackEvent>().at(-1)).toMatchObject({ type: 'status', status: 'killed' });
  });

  /** Spawns a sample agent with a child and a grandchild, and returns its session id and live process tree once they run. */
  async function spawnTree(endpoint: CallbackEndpoint, sampleAgent: Record<string, unknown>) {
    const id = await spawn(running(), spawnBody(endpoint, { steps: 0, duration_ms: 60_000, children: 1, ...sampleAgent }));
    await endpoint.waitFor((received) => received.some((callback) => JSON.stringify(callback.body).includes('started child processes')));
    const tree = await eventually(() => {
      const descendants = liveDescendants(running().pid);
      expect(descendants.length).toBeGreaterThanOrEqual(3);
      return descendants;
    }, 5_000);
    return { id, pids: tree.map((info) => info.pid) };
  }

  serviceTest(
    'cancel: an agent that stops on SIGTERM ends cancelled well before the grace, its whole tree gone when the answer comes',
    async () => {
      const endpoint = receiver.endpoint();
      const { id, pids } = await spawnTree(endpoint, {});

      const begun = Date.now();
      const cancelled = await call(running(), 'POST', `/orchestrator/sessions/${id}/cancel`);
      expect(cancelled).toMatchObject({ status: 200, body: { session_id: id, status: 'cancelled' } });
      // The default grace (CANCEL_GRACE_MS) is 10 s.
      expect(Date.now() - begun).toBeLessThan(3_000);
      await waitForNoProcesses(pids, 0);

      expect((await call(running(), 'POST', `/orchestrator/sessions/${id}/cancel`, { body: { grace_ms: 0 } })).body).toEqual({
        session_id: id,
        status: 'cancelled',
      });
      expect((await call(running(), 'POST', `/orchestrator/sessions/${id}/kill`)).body).toEqual({ session_id: id, status: 'cancelled' });
      await endpoint.waitFor(hasTerminal(endpoint));
      const events = endpoint.accepted<CallbackEvent>();
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'log', data: { stream: 'stdout', line: 'sample agent: got SIGTERM, stopping' } }),
      );
      expect(events.at(-1)).toMatchObject({ type: 'status', status: 'cancelled' });
    },
  );

  serviceTest('cancel: an agent that ignores SIGTERM is killed, with its tree, when grace_ms ends', async () => {
    const endpoint = receiver.endpoint();
    const { id, pids } = await spawnTree(endpoint, { ignore_sigterm: true });

    const begun = Date.now();
    const cancelled = await call(running(), 'POST', `/orchestrator/sessions/${id}/cancel`, { body: { grace_ms: 2_000 } });
    const took = Date.now() - begun;
    expect(cancelled).toMatchObject({ status: 200, body: { session_id: id, status: 'cancelled' } });
    expect(took).toBeGreaterThanOrEqual(1_000);
    expect(took).toBeLessThanOrEqual(3_000);
    await waitForNoProcesses(pids, 0);
    await endpoint.waitFor(hasTerminal(endpoint));
    expect(endpoint.accepted<CallbackEvent>().at(-1)).toMatchObject({ type: 'status', status: 'cancelled' });
  });

  serviceTest('killing a session whose agent already exited keeps its status', async () => {
    const endpoint = receiver.endpoint();
    const id = await spawn(running(), spawnBody(endpoint, { steps: 0 }));
    await waitForStatus(running(), id, ['completed']);
    expect((await call(running(), 'POST', `/orchestrator/sessions/${id}/kill`)).body).toEqual({ session_id: id, status: 'completed' });
  });

  serviceTest('the same Idempotency-Key spawns one session; a different body with it is refused', async () => {
    const endpoint = receiver.endpoint();
    const key = randomUUID();
    const body = spawnBody(endpoint, { steps: 0 });
    const [first, second] = await Promise.all(
      [0, 1].map(() => call(running(), 'POST', '/orchestrator/sessions/spawn', { body, headers: { 'idempotency-key': key } })),
    );
    expect([first.status, second.status].sort()).toEqual([200, 201]);
    expect(second.body).toEqual(first.body);
    const id = first.body.session_id;
    await endpoint.waitFor(hasTerminal(endpoint));
    expect(new Set(endpoint.accepted<CallbackEvent>().map((event) => event.session_id))).toEqual(new Set([id]));

    const reordered = { callback_token: body.callback_token, callback_url: body.callback_url, context: body.context, task: body.task };
    const again = await call(running(), 'POST', '/orchestrator/sessions/spawn', { body: reordered, headers: { 'idempotency-key': key } });
    expect(again).toMatchObject({ status: 200, body: first.body });

    const changed = await call(running(), 'POST', '/orchestrator/sessions/spawn', {
      body: { ...body, callback_token: 'other' },
      headers: { 'idempotency-key': key },
    });
    expectErrorBody(changed, 422, 'idempotency_key_reused');
  });

  serviceTest('a callback answered 500 is redelivered with the same event_id and accepted once', async () => {
    const endpoint = receiver.endpoint(answerInTurn(500, 202));
    await spawn(running(), spawnBody(endpoint, { steps: 1 }));
    await endpoint.waitFor(hasTerminal(endpoint));
    const [refused, redelivered] = endpoint.received;
    expect(refused.status).toBe(500);
    expect(redelivered.status).toBe(202);
    expect(redelivered.body).toEqual(refused.body);
    const accepted = endpoint.accepted<CallbackEvent>();
    expect(accepted.filter((event) => event.event_id === (refused.body as CallbackEvent).event_id)).toHaveLength(1);
    expect(accepted.map((event) => event.sequence)).toEqual(accepted.map((_, index) => index + 1));
  });

  serviceTest('Retry-After on a 503 is honoured before the redelivery', async () => {
    const times: number[] = [];
    const endpoint = receiver.endpoint(({ index }) => {
      times.push(Date.now());
      return index === 0 ? { status: 503, headers: { 'retry-after': '1' } } : 202;
    });
    await spawn(running(), spawnBody(endpoint, { steps: 0 }));
    await endpoint.waitFor(hasTerminal(endpoint));
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
  });

  serviceTest('a 4xx drops that event only; later events are still delivered', async () => {
    const endpoint = receiver.endpoint(answerInTurn(400, 202));
    await spawn(running(), spawnBody(endpoint, { steps: 2 }));
    await endpoint.waitFor(hasTerminal(endpoint));
    expect(endpoint.received[0]).toMatchObject({ status: 400, body: { sequence: 1, type: 'status', status: 'running' } });
    const accepted = endpoint.accepted<CallbackEvent>();
    expect(accepted.map((event) => event.sequence)).toEqual(accepted.map((_, index) => index + 2));
    expect(endpoint.received.filter((callback) => (callback.body as CallbackEvent).sequence === 1)).toHaveLength(1);
  });

  serviceTest('a 401 stops delivery for that session', async () => {
    const endpoint = receiver.endpoint(answerInTurn(401));
    const id = await spawn(running(), spawnBody(endpoint, { steps: 3 }));
    await waitForStatus(running(), id, ['completed']);
    // The final status event is queued before the status reads completed; give a delivery that should not happen time to arrive.
    await sleep(300);
    expect(endpoint.received).toHaveLength(1);
    expect(endpoint.received[0]).toMatchObject({ status: 401, body: { sequence: 1 } });
  });

  describe('authentication and validation', () => {
    serviceTest('every /orchestrator/ route wants the API key, and answers 401 in the contract shape', async () => {
      const routes: [string, string][] = [
        ['POST', '/orchestrator/sessions/spawn'],
        ['GET', '/orchestrator/sessions'],
        ['GET', `/orchestrator/sessions/${randomUUID()}/status`],
        ['POST', `/orchestrator/sessions/${randomUUID()}/kill`],
        ['POST', `/orchestrator/sessions/${randomUUID()}/cancel`],
        ['GET', '/orchestrator/no-such-route'],
      ];
      const wrongHeaders = [
        { authorization: '' },
        { authorization: 'Bearer wrong-key' },
        { authorization: `Basic ${API_KEY}` },
        { authorization: `Bearer ${API_KEY}x` },
      ];
      for (const [method, path] of routes) {
        for (const headers of wrongHeaders) {
          expectErrorBody(
            await call(running(), method, path, { headers, ...(method === 'POST' && { body: '{not json' }) }),
            401,
            'unauthorized',
          );
        }
      }
    });

    serviceTest('bad bodies, headers and queries get 400 naming the field; large bodies 413; unknown ids 404', async () => {
      const endpoint = receiver.endpoint();
      const valid = spawnBody(endpoint);
      const spawnWith = (options: Parameters<typeof call>[3]) => call(running(), 'POST', '/orchestrator/sessions/spawn', options);

      expectErrorBody(await spawnWith({ body: '{"task": ' }), 400, 'bad_request');
      const missingTitle = await spawnWith({ body: { ...valid, task: { id: 'x' } } });
      expectErrorBody(missingTitle, 400, 'bad_request');
      expect(missingTitle.body.error.message).toContain('task.title');
      const badUrl = await spawnWith({ body: { ...valid, callback_url: 'not a url' } });
      expect(badUrl.body.error.message).toContain('callback_url');
      const extra = await spawnWith({ body: { ...valid, surprise: 1 } });
      expect(extra.body.error.message).toContain('surprise');
      const badVersion = await spawnWith({ body: { ...valid, context: { schema_version: 3 } } });
      expect(badVersion.body.error.message).toContain('context.schema_version');
      const longKey = await spawnWith({ body: valid, headers: { 'idempotency-key': 'k'.repeat(256) } });
      expectErrorBody(longKey, 400, 'bad_request');
      expect(longKey.body.error.message).toContain('Idempotency-Key');

      const huge = { ...valid, task: { ...valid.task, blob: 'x'.repeat(300 * 1024) } };
      expectErrorBody(await spawnWith({ body: huge }), 413, 'payload_too_large');

      expectErrorBody(await call(running(), 'GET', '/orchestrator/sessions?limit=0'), 400, 'bad_request');
      expectErrorBody(await call(running(), 'GET', '/orchestrator/sessions?limit=501'), 400, 'bad_request');
      expectErrorBody(await call(running(), 'GET', '/orchestrator/sessions?limit=1e2'), 400, 'bad_request');
      expectErrorBody(await call(running(), 'GET', '/orchestrator/sessions?status=sleeping'), 400, 'bad_request');
      expectErrorBody(await call(running(), 'GET', '/orchestrator/sessions?cursor=bm90LWEtY3Vyc29y'), 400, 'bad_request');
      expectErrorBody(await call(running(), 'GET', `/orchestrator/sessions/${randomUUID()}/status`), 404, 'not_found');
      expectErrorBody(await call(running(), 'POST', `/orchestrator/sessions/${randomUUID()}/kill`), 404, 'not_found');
      expectErrorBody(
        await call(running(), 'POST', `/orchestrator/sessions/${randomUUID()}/cancel`, { body: { grace_ms: 10 } }),
        404,
        'not_found',
      );
      for (const body of [{ grace_ms: -1 }, { grace_ms: 600_001 }, { grace_ms: 'soon' }, { grace: 10 }]) {
        const refused = await call(running(), 'POST', `/orchestrator/sessions/${randomUUID()}/cancel`, { body });
        expectErrorBody(refused, 400, 'bad_request');
        expect(refused.body.error.message).toContain(Object.keys(body)[0]);
      }
      expect(endpoint.received).toHaveLength(0);
    });
  });
});

describe('orchestrator limits and shutdown (built service, one slot)', () => {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver;
  const running = () => service!;
  const serviceTest = (name: string, body: () => Promise<void>, timeoutMs = 30_000) =>
    it(
      name,
      withServiceOutput(() => [service], body),
      timeoutMs,
    );
  const SESSION_TIMEOUT_MS = 3_000;

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    service = await startService({
      name: 'orchestrator-limits',
      entry: ENTRY,
      env: {
        ORCHESTRATOR_API_KEY: API_KEY,
        MAX_CONCURRENT_SESSIONS: '1',
        MAX_QUEUED_SESSIONS: '1',
        SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
        SHUTDOWN_GRACE_MS: '10000',
        AGENT_COMMAND: undefined,
      },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
  });

  serviceTest(
    'beyond capacity a spawn waits pending with its place in the queue; a full queue answers 503 queue_full with Retry-After; a replayed key still answers',
    async () => {
      const endpoint = receiver.endpoint();
      const blocker = await spawn(running(), spawnBody(endpoint, { duration_ms: 60_000 }));
      const key = randomUUID();
      const body = spawnBody(endpoint, { steps: 0 });
      const queued = await call(running(), 'POST', '/orchestrator/sessions/spawn', { body, headers: { 'idempotency-key': key } });
      expect(queued).toMatchObject({ status: 201, body: { status: 'pending' } });
      expect((await call(running(), 'GET', `/orchestrator/sessions/${queued.body.session_id}/status`)).body).toMatchObject({
        status: 'pending',
        queue_position: 1,
      });

      const refused = await call(running(), 'POST', '/orchestrator/sessions/spawn', {
        body: spawnBody(endpoint),
        headers: { 'idempotency-key': randomUUID() },
      });
      expectErrorBody(refused, 503, 'queue_full');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await call(running(), 'POST', '/orchestrator/sessions/spawn', { body, headers: { 'idempotency-key': key } })).toMatchObject({
        status: 200,
        body: { session_id: queued.body.session_id },
      });

      await call(running(), 'POST', `/orchestrator/sessions/${blocker}/kill`);
      expect(await waitForStatus(running(), queued.body.session_id, ['completed'])).toMatchObject({
        status: 'completed',
        node: expect.any(String),
      });
    },
  );

  serviceTest('a spawn refused for a full queue is not remembered under its key', async () => {
    const endpoint = receiver.endpoint();
    const blocker = await spawn(running(), spawnBody(endpoint, { duration_ms: 60_000 }));
    const waiting = await call(running(), 'POST', '/orchestrator/sessions/spawn', {
      body: spawnBody(endpoint),
      headers: { 'idempotency-key': randomUUID() },
    });
    const key = randomUUID();
    const body = spawnBody(endpoint, { steps: 0 });
    expect((await call(running(), 'POST', '/orchestrator/sessions/spawn', { body, headers: { 'idempotency-key': key } })).status).toBe(503);
    expect((await call(running(), 'POST', `/orchestrator/sessions/${waiting.body.session_id}/kill`)).body.status).toBe('killed');
    expect((await call(running(), 'POST', '/orchestrator/sessions/spawn', { body, headers: { 'idempotency-key': key } })).status).toBe(201);
    await call(running(), 'POST', `/orchestrator/sessions/${blocker}/kill`);
    await endpoint.waitFor(() => endpoint.accepted<CallbackEvent>().filter(isTerminalEvent).length === 3);
  });

  serviceTest('a session past SESSION_TIMEOUT_MS is killed and ends failed, saying why', async () => {
    const endpoint = receiver.endpoint();
    const id = await spawn(running(), spawnBody(endpoint, { steps: 0, duration_ms: 60_000, children: 1 }));
    const status = await waitForStatus(running(), id, ['completed', 'failed', 'killed'], SESSION_TIMEOUT_MS + 15_000);
    expect(status).toMatchObject({ status: 'failed', error: expect.stringContaining('time limit') });
    expect(status.exit_code).toBeUndefined();
    await endpoint.waitFor(hasTerminal(endpoint));
    expect(endpoint.accepted<CallbackEvent>().at(-1)).toMatchObject({
      type: 'status',
      status: 'failed',
      data: { error: expect.stringContaining('time limit') },
    });
    expect(liveDescendants(running().pid)).toEqual([]);
  });

  serviceTest(
    "SIGTERM (a deploy): the process exits 0 at once, its agent and the agent's children keep running, and nothing ends the session",
    async () => {
      const endpoint = receiver.endpoint();
      const id = await spawn(running(), spawnBody(endpoint, { steps: 0, duration_ms: 60_000, children: 1 }));
      await endpoint.waitFor((received) => received.length >= 2);
      const tree = liveDescendants(running().pid);
      expect(tree.length).toBeGreaterThanOrEqual(3);

      running().kill('SIGTERM');
      expect(await running().exited).toEqual({ code: 0, signal: null });

      try {
        expect(tree.every((info) => isAlive(info.pid))).toBe(true);
        expect(endpoint.accepted<CallbackEvent>().filter((event) => event.session_id === id && isTerminalEvent(event))).toEqual([]);
        expect(running().output()).toContain('1 agent(s) keep running, to be adopted when node');
      } finally {
        // No later life of this node comes to adopt them here.
        await killProcessTrees(tree);
      }
    },
  );
});
