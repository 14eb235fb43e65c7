import { HttpService } from '@nestjs/axios';
import { Logger } from '@nestjs/common';
import axios from 'axios';
import nock from 'nock';
import type { SessionStatusResponse, SpawnRequest } from '@mosaic/orchestrator-contract';
import { ApiConfig } from '../config/api-config';
import { ApiMetrics } from '../metrics/api-metrics';
import { MALFORMED_ANSWER_CODE, OrchestratorClient } from './orchestrator.client';
import { OrchestratorError } from './orchestrator.errors';

const BASE_URL = 'http://orchestrator.test';
const API_KEY = 'test-orchestrator-key-4f1c';
const CREATED_AT = '2026-01-01T00:00:00.000Z';

const SPAWN_BODY: SpawnRequest = {
  task: { id: 'task-1', title: 'Write the report' },
  context: { schema_version: 1 },
  callback_url: 'http://api.test/orchestrator/callbacks/s-1',
  callback_token: 'callback-token',
};

function configWith(overrides: Record<string, string> = {}): ApiConfig {
  return ApiConfig.fromEnvironment({
    ORCHESTRATOR_URL: BASE_URL,
    ORCHESTRATOR_API_KEY: API_KEY,
    ORCHESTRATOR_SPAWN_TIMEOUT_MS: '300',
    ORCHESTRATOR_STATUS_TIMEOUT_MS: '300',
    ORCHESTRATOR_KILL_TIMEOUT_MS: '300',
    ORCHESTRATOR_LIST_TIMEOUT_MS: '300',
    ORCHESTRATOR_HEALTH_TIMEOUT_MS: '300',
    ORCHESTRATOR_RETRY_ATTEMPTS: '2',
    ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: '1',
    ORCHESTRATOR_RETRY_MAX_DELAY_MS: '20',
    ORCHESTRATOR_BREAKER_FAILURES: '10',
    ORCHESTRATOR_BREAKER_HALF_OPEN_AFTER_MS: '150',
    ...overrides,
  });
}

function clientWith(overrides: Record<string, string> = {}): OrchestratorClient {
  return new OrchestratorClient(new HttpService(axios.create()), configWith(overrides), new ApiMetrics());
}

/** An interceptor scope that only matches requests carrying the API key. */
function orchestrator(): nock.Scope {
  return nock(BASE_URL, { reqheaders: { authorization: `Bearer ${API_KEY}` } });
}

function status(sessionId: string, extra: Partial<SessionStatusResponse> = {}): SessionStatusResponse {
  return { session_id: sessionId, status: 'running', created_at: CREATED_AT, ...extra };
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

async function failureOf(promise: Promise<unknown>): Promise<OrchestratorError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof OrchestratorError)) throw new Error(`expected an OrchestratorError, got ${String(outcome)}`);
  return outcome;
}

function networkError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('OrchestratorClient', () => {
  let logged: string[];

  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());

  beforeEach(() => {
    logged = [];
    for (const level of ['log', 'warn', 'error'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
        const [message] = args;
        logged.push(String(message));
      });
    }
  });

  afterEach(() => {
    nock.cleanAll();
    jest.restoreAllMocks();
  });

  describe('happy paths', () => {
    it('spawns with the API key, the idempotency key and the body', async () => {
      const scope = orchestrator()
        .matchHeader('idempotency-key', 'key-1')
        .post('/orchestrator/sessions/spawn', (body: unknown) => JSON.stringify(body) === JSON.stringify(SPAWN_BODY))
        .reply(201, { session_id: 'orch-1', status: 'pending', created_at: CREATED_AT });

      await expect(clientWith().spawn(SPAWN_BODY, 'key-1')).resolves.toEqual({
        session_id: 'orch-1',
        status: 'pending',
        created_at: CREATED_AT,
      });
      expect(scope.isDone()).toBe(true);
    });

    it('accepts the 200 of a replayed spawn', async () => {
      orchestrator().post('/orchestrator/sessions/spawn').reply(200, { session_id: 'orch-1', status: 'running', created_at: CREATED_AT });

      await expect(clientWith().spawn(SPAWN_BODY, 'key-1')).resolves.toMatchObject({ session_id: 'orch-1', status: 'running' });
    });

    it('gets a status, encoding the id as one path segment', async () => {
      const scope = orchestrator()
        .get('/orchestrator/sessions/a%2Fb%20c%3F/status')
        .reply(200, status('a/b c?', { status: 'failed', exit_code: 2, ended_at: CREATED_AT }));

      await expect(clientWith().getStatus('a/b c?')).resolves.toEqual(
        status('a/b c?', { status: 'failed', exit_code: 2, ended_at: CREATED_AT }),
      );
      expect(scope.isDone()).toBe(true);
    });

    it('kills a session', async () => {
      const scope = orchestrator().post('/orchestrator/sessions/orch-1/kill').reply(200, { session_id: 'orch-1', status: 'killed' });

      await expect(clientWith().kill('orch-1')).resolves.toEqual({ session_id: 'orch-1', status: 'killed' });
      expect(scope.isDone()).toBe(true);
    });

    it('lists with an encoded query', async () => {
      const scope = orchestrator()
        .get('/orchestrator/sessions')
        .query({ status: 'running', limit: '10', cursor: 'a b&c=d' })
        .reply(200, { sessions: [status('orch-1')], next_cursor: 'next' });

      await expect(clientWith().list({ status: 'running', limit: 10, cursor: 'a b&c=d' })).resolves.toEqual({
        sessions: [status('orch-1')],
        next_cursor: 'next',
      });
      expect(scope.isDone()).toBe(true);
    });

    it('lists without a query when none is given', async () => {
      const scope = orchestrator().get('/orchestrator/sessions').query({}).reply(200, { sessions: [], next_cursor: null });

      await expect(clientWith().list({})).resolves.toEqual({ sessions: [], next_cursor: null });
      expect(scope.isDone()).toBe(true);
    });

    it('finds the session a spawn with an idempotency key started, the key encoded', async () => {
      const scope = orchestrator()
        .get('/orchestrator/sessions')
        .query({ idempotency_key: 'key 1&x=y' })
        .reply(200, { sessions: [status('orch-1')], next_cursor: null });

      await expect(clientWith().findSpawned('key 1&x=y')).resolves.toEqual(status('orch-1'));
      expect(scope.isDone()).toBe(true);
    });

    it('finds nothing when the orchestrator knows no session with that key', async () => {
      orchestrator().get('/orchestrator/sessions').query({ idempotency_key: 'key-2' }).reply(200, { sessions: [], next_cursor: null });

      await expect(clientWith().findSpawned('key-2')).resolves.toBeUndefined();
    });

    it('reads the health and how long it took', async () => {
      const scope = orchestrator().get('/health').reply(200, { status: 'ok', version: '1.2.3', active_sessions: 4 });

      const result = await clientWith().health();

      expect(result.health).toEqual({ status: 'ok', version: '1.2.3', active_sessions: 4 });
      expect(result.latencyMs).toBeGreaterThanOrEqual(0);
      expect(scope.isDone()).toBe(true);
    });
  });

  describe('failures', () => {
    it('reports an unreachable orchestrator after its retries', async () => {
      const scope = orchestrator()
        .get('/orchestrator/sessions/orch-1/status')
        .times(3)
        .replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:3100'));

      const failure = await failureOf(clientWith().getStatus('orch-1'));

      expect(failure.failure).toBe('unreachable');
      expect(failure.message).toBe(
        `orchestrator at ${BASE_URL} is unreachable (ECONNREFUSED) for GET /orchestrator/sessions/orch-1/status (after 3 attempts)`,
      );
      expect(scope.isDone()).toBe(true);
    });

    it('reports a timeout naming the call and the limit', async () => {
      orchestrator().get('/orchestrator/sessions/orch-1/status').delay(1_000).reply(200, status('orch-1'));

      const failure = await failureOf(
        clientWith({ ORCHESTRATOR_RETRY_ATTEMPTS: '0', ORCHESTRATOR_STATUS_TIMEOUT_MS: '50' }).getStatus('orch-1'),
      );

      expect(failure.failure).toBe('timeout');
      expect(failure.message).toBe('orchestrator did not answer GET /orchestrator/sessions/orch-1/status within 50 ms');
    });

    it.each([
      ['agent_unavailable', 'agent_unavailable'],
      ['bad_request', 'bad_request'],
      ['some_code', 'bad_request'],
    ])("passes a spawn's 400 %s on as the caller's 400 %s, with its message, without retrying", async (answered, code) => {
      const scope = orchestrator().post('/orchestrator/sessions/spawn').reply(400, errorBody(answered, 'agent.kind: no such program'));
      const extra = orchestrator()
        .post('/orchestrator/sessions/spawn')
        .reply(201, { session_id: 'x', status: 'pending', created_at: CREATED_AT });

      const failure = await failureOf(clientWith().spawn(SPAWN_BODY, 'key-1'));

      expect(failure.failure).toBe('refused');
      expect(failure.code).toBe(code);
      expect(failure.message).toBe('agent.kind: no such program');
      expect(scope.isDone()).toBe(true);
      expect(extra.isDone()).toBe(false);
    });

    it.each([401, 404, 409, 413, 422])('rejects a spawn answered %i, without retrying', async (code) => {
      const scope = orchestrator().post('/orchestrator/sessions/spawn').reply(code, errorBody('some_code', 'what was wrong'));
      const extra = orchestrator()
        .post('/orchestrator/sessions/spawn')
        .reply(201, { session_id: 'x', status: 'pending', created_at: CREATED_AT });

      const failure = await failureOf(clientWith().spawn(SPAWN_BODY, 'key-1'));

      expect(failure.failure).toBe('rejected');
      expect(failure.answer).toEqual({ status: code, code: 'some_code', message: 'what was wrong' });
      expect(failure.message).toBe(`orchestrator answered POST /orchestrator/sessions/spawn with ${code} some_code: what was wrong`);
      expect(scope.isDone()).toBe(true);
      expect(extra.isDone()).toBe(false);
    });

    it('does not retry a 500', async () => {
      orchestrator().get('/orchestrator/sessions').reply(500, errorBody('internal_error', 'boom'));
      const extra = orchestrator().get('/orchestrator/sessions').reply(200, { sessions: [], next_cursor: null });

      const failure = await failureOf(clientWith().list({}));

      expect(failure.failure).toBe('rejected');
      expect(failure.answer).toEqual({ status: 500, code: 'internal_error', message: 'boom' });
      expect(extra.isDone()).toBe(false);
    });

    it('describes an answer without the contract error body by its status', async () => {
      orchestrator().get('/orchestrator/sessions').reply(418, '<html>teapot</html>');

      const failure = await failureOf(clientWith().list({}));

      expect(failure.failure).toBe('rejected');
      expect(failure.answer).toEqual({ status: 418, code: 'http_418', message: 'the answer carried no contract error body' });
    });

    it.each([
      ['getStatus', (client: OrchestratorClient) => client.getStatus('gone'), 'get', '/orchestrator/sessions/gone/status'],
      ['kill', (client: OrchestratorClient) => client.kill('gone'), 'post', '/orchestrator/sessions/gone/kill'],
    ] as const)('maps a 404 on %s to not_found, without retrying', async (_name, call, method, path) => {
      const scope = orchestrator()[method](path).reply(404, errorBody('not_found', 'no such session'));
      const extra = orchestrator()[method](path).reply(200, status('gone'));

      const failure = await failureOf(call(clientWith()));

      expect(failure.failure).toBe('not_found');
      expect(failure.answer).toEqual({ status: 404, code: 'not_found', message: 'no such session' });
      expect(scope.isDone()).toBe(true);
      expect(extra.isDone()).toBe(false);
    });

    it('treats a 404 on a route that is not about one session as rejected', async () => {
      orchestrator().get('/orchestrator/sessions').reply(404, errorBody('not_found', 'no route'));

      await expect(failureOf(clientWith().list({}))).resolves.toMatchObject({ failure: 'rejected' });
    });

    it('refuses ids that would not stay one path segment, without a request', async () => {
      const scope = orchestrator().get(/.*/).reply(200, status('x'));

      await expect(failureOf(clientWith().getStatus('..'))).resolves.toMatchObject({ failure: 'not_found' });
      await expect(failureOf(clientWith().kill(''))).resolves.toMatchObject({ failure: 'not_found' });
      expect(scope.isDone()).toBe(false);
    });

    it.each([
      ['a body missing a field', { session_id: 'orch-1', created_at: CREATED_AT }, 'status'],
      ['a status outside the contract', { session_id: 'orch-1', status: 'exploded', created_at: CREATED_AT }, 'status'],
      ['a body that is not JSON', 'all good', 'body'],
    ])('rejects a 2xx with %s, without retrying', async (_name, body, field) => {
      const scope = orchestrator().get('/orchestrator/sessions/orch-1/status').reply(200, body);
      const extra = orchestrator().get('/orchestrator/sessions/orch-1/status').reply(200, status('orch-1'));

      const failure = await failureOf(clientWith().getStatus('orch-1'));

      expect(failure.failure).toBe('rejected');
      expect(failure.answer).toMatchObject({ status: 200, code: MALFORMED_ANSWER_CODE });
      expect(failure.message).toMatch(/^orchestrator sent a malformed answer to GET \/orchestrator\/sessions\/orch-1\/status: /);
      expect(failure.message).toContain(field);
      expect(scope.isDone()).toBe(true);
      expect(extra.isDone()).toBe(false);
    });

    it('rejects a malformed health answer', async () => {
      orchestrator().get('/health').reply(200, { status: 'degraded', version: '1', active_sessions: 0 });

      await expect(failureOf(clientWith().health())).resolves.toMatchObject({
        failure: 'rejected',
        answer: { code: MALFORMED_ANSWER_CODE },
      });
    });
  });

  describe('retries', () => {
    it('retries a spawn answered 503, with the same idempotency key', async () => {
      const keys: unknown[] = [];
      orchestrator()
        .post('/orchestrator/sessions/spawn')
        .reply(function () {
          keys.push(this.req.headers['idempotency-key']);
          return [503, errorBody('shutting_down', 'draining')];
        })
        .post('/orchestrator/sessions/spawn')
        .reply(function () {
          keys.push(this.req.headers['idempotency-key']);
          return [201, { session_id: 'orch-1', status: 'pending', created_at: CREATED_AT }];
        });

      await expect(clientWith().spawn(SPAWN_BODY, 'key-7')).resolves.toMatchObject({ session_id: 'orch-1' });
      expect(keys).toEqual(['key-7', 'key-7']);
    });

    it.each([502, 504])('retries a %i', async (code) => {
      const scope = orchestrator()
        .post('/orchestrator/sessions/orch-1/kill')
        .reply(code)
        .post('/orchestrator/sessions/orch-1/kill')
        .reply(200, { session_id: 'orch-1', status: 'killed' });

      await expect(clientWith().kill('orch-1')).resolves.toEqual({ session_id: 'orch-1', status: 'killed' });
      expect(scope.isDone()).toBe(true);
    });

    it('waits for Retry-After on a 429', async () => {
      const scope = orchestrator()
        .get('/orchestrator/sessions')
        .reply(429, errorBody('too_many_requests', 'slow down'), { 'Retry-After': '1' })
        .get('/orchestrator/sessions')
        .reply(200, { sessions: [], next_cursor: null });
      const started = Date.now();

      await clientWith({ ORCHESTRATOR_RETRY_MAX_DELAY_MS: '5000' }).list({});

      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(scope.isDone()).toBe(true);
    });

    it('caps Retry-After at the maximum delay', async () => {
      const scope = orchestrator()
        .get('/orchestrator/sessions')
        .reply(503, errorBody('shutting_down', 'draining'), { 'Retry-After': '3600' })
        .get('/orchestrator/sessions')
        .reply(200, { sessions: [], next_cursor: null });

      await expect(clientWith({ ORCHESTRATOR_RETRY_MAX_DELAY_MS: '50' }).list({})).resolves.toEqual({ sessions: [], next_cursor: null });
      expect(scope.isDone()).toBe(true);
    });

    it('retries after a network error', async () => {
      const scope = orchestrator()
        .get('/orchestrator/sessions/orch-1/status')
        .replyWithError(networkError('ECONNRESET', 'socket hang up'))
        .get('/orchestrator/sessions/orch-1/status')
        .reply(200, status('orch-1'));

      await expect(clientWith().getStatus('orch-1')).resolves.toEqual(status('orch-1'));
      expect(scope.isDone()).toBe(true);
    });

    it('retries after a timeout', async () => {
      const scope = orchestrator()
        .get('/orchestrator/sessions/orch-1/status')
        .delay(1_000)
        .reply(200, status('orch-1', { status: 'pending' }))
        .get('/orchestrator/sessions/orch-1/status')
        .reply(200, status('orch-1'));

      await expect(clientWith({ ORCHESTRATOR_STATUS_TIMEOUT_MS: '50' }).getStatus('orch-1')).resolves.toEqual(status('orch-1'));
      expect(scope.isDone()).toBe(true);
    });

    it('gives up after the configured attempts with the last answer', async () => {
      const scope = orchestrator().get('/orchestrator/sessions').times(3).reply(503, errorBody('queue_unavailable', 'store down'));
      const extra = orchestrator().get('/orchestrator/sessions').reply(200, { sessions: [], next_cursor: null });

      const failure = await failureOf(clientWith().list({}));

      expect(failure.failure).toBe('rejected');
      expect(failure.answer).toEqual({ status: 503, code: 'queue_unavailable', message: 'store down' });
      expect(failure.message).toMatch(/\(after 3 attempts\)$/);
      expect(scope.isDone()).toBe(true);
      expect(extra.isDone()).toBe(false);
    });

    it('does not retry the health probe', async () => {
      orchestrator().get('/health').replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:3100'));
      const extra = orchestrator().get('/health').reply(200, { status: 'ok', version: '1', active_sessions: 0 });

      await expect(failureOf(clientWith().health())).resolves.toMatchObject({ failure: 'unreachable' });
      expect(extra.isDone()).toBe(false);
    });
  });

  describe('circuit breaker', () => {
    const breakerSettings = { ORCHESTRATOR_RETRY_ATTEMPTS: '0', ORCHESTRATOR_BREAKER_FAILURES: '3' };

    async function openBreaker(client: OrchestratorClient): Promise<void> {
      orchestrator()
        .get('/orchestrator/sessions/orch-1/status')
        .times(3)
        .replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:3100'));
      for (let call = 0; call < 3; call += 1) {
        await expect(failureOf(client.getStatus('orch-1'))).resolves.toMatchObject({ failure: 'unreachable' });
      }
    }

    it('opens after N consecutive failures, then fails fast without a request', async () => {
      const client = clientWith(breakerSettings);
      await openBreaker(client);
      const untouched = orchestrator().get('/orchestrator/sessions/orch-1/status').reply(200, status('orch-1'));

      const failure = await failureOf(client.getStatus('orch-1'));

      expect(failure.failure).toBe('circuit_open');
      expect(failure.message).toBe(
        'orchestrator circuit is open after repeated failures; GET /orchestrator/sessions/orch-1/status was not sent',
      );
      expect(client.circuitState).toBe('open');
      expect(untouched.isDone()).toBe(false);
      expect(nock.pendingMocks()).toHaveLength(1);
    });

    it('never opens because of health probes, so dispatch keeps its way to a slow orchestrator', async () => {
      const client = clientWith(breakerSettings);
      orchestrator().get('/health').times(10).replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:3100'));
      for (let probe = 0; probe < 10; probe += 1)
        await expect(failureOf(client.health())).resolves.toMatchObject({ failure: 'unreachable' });
      const spawn = orchestrator()
        .post('/orchestrator/sessions/spawn')
        .reply(201, { session_id: 'orch-1', status: 'pending', created_at: new Date().toISOString() });

      expect(client.circuitState).toBe('closed');
      await expect(client.spawn(SPAWN_BODY, 'key-1')).resolves.toMatchObject({ session_id: 'orch-1' });
      expect(spawn.isDone()).toBe(true);
    });

    it('forgets earlier failures once a health probe is answered, so one 503 after an outage does not open it', async () => {
      const client = clientWith(breakerSettings);
      orchestrator()
        .post('/orchestrator/sessions/spawn')
        .twice()
        .replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:3100'));
      for (let call = 0; call < 2; call += 1)
        await expect(failureOf(client.spawn(SPAWN_BODY, 'key-1'))).resolves.toMatchObject({ failure: 'unreachable' });
      orchestrator().get('/health').reply(200, { status: 'ok', version: '1', active_sessions: 0 });
      await client.health();
      orchestrator().post('/orchestrator/sessions/spawn').reply(503, errorBody('shutting_down', 'draining'));
      await expect(failureOf(client.spawn(SPAWN_BODY, 'key-1'))).resolves.toMatchObject({ failure: 'rejected' });
      const next = orchestrator()
        .post('/orchestrator/sessions/spawn')
        .reply(201, { session_id: 'orch-1', status: 'pending', created_at: CREATED_AT });

      expect(client.circuitState).toBe('closed');
      await expect(client.spawn(SPAWN_BODY, 'key-1')).resolves.toMatchObject({ session_id: 'orch-1' });
      expect(next.isDone()).toBe(true);
    });

    it('fails the health probe fast while open', async () => {
      const client = clientWith(breakerSettings);
      await openBreaker(client);
      const untouched = orchestrator().get('/health').reply(200, { status: 'ok', version: '1', active_sessions: 0 });

      await expect(failureOf(client.health())).resolves.toMatchObject({ failure: 'circuit_open' });
      expect(untouched.isDone()).toBe(false);
    });

    it('closes again when a call succeeds after halfOpenAfter, logging each change without the key', async () => {
      const client = clientWith(breakerSettings);
      await openBreaker(client);
      await sleep(200);
      const probe = orchestrator().get('/orchestrator/sessions/orch-1/status').reply(200, status('orch-1'));

      await expect(client.getStatus('orch-1')).resolves.toEqual(status('orch-1'));

      expect(probe.isDone()).toBe(true);
      expect(client.circuitState).toBe('closed');
      expect(logged).toEqual([
        expect.stringMatching(
          /^orchestrator circuit opened after 3 consecutive failures; calls fail fast for 150 ms; last failure: .*ECONNREFUSED/,
        ),
        'orchestrator circuit half-open: letting one call through',
        'orchestrator circuit closed: the orchestrator answers again',
      ]);
      expect(logged.join('\n')).not.toContain(API_KEY);
    });

    it('opens again when the half-open probe fails', async () => {
      const client = clientWith(breakerSettings);
      await openBreaker(client);
      await sleep(200);
      orchestrator().get('/orchestrator/sessions/orch-1/status').reply(502);

      await expect(failureOf(client.getStatus('orch-1'))).resolves.toMatchObject({ failure: 'rejected' });
      await expect(failureOf(client.getStatus('orch-1'))).resolves.toMatchObject({ failure: 'circuit_open' });
    });

    it('stops retrying as soon as the breaker opens', async () => {
      const client = clientWith({ ORCHESTRATOR_RETRY_ATTEMPTS: '5', ORCHESTRATOR_BREAKER_FAILURES: '2' });
      const failing = orchestrator().get('/orchestrator/sessions').times(2).reply(502);
      const untouched = orchestrator().get('/orchestrator/sessions').reply(200, { sessions: [], next_cursor: null });

      const failure = await failureOf(client.list({}));

      expect(failure.failure).toBe('circuit_open');
      expect(failing.isDone()).toBe(true);
      expect(untouched.isDone()).toBe(false);
    });

    it.each([
      ['4xx answers', 400, errorBody('bad_request', 'no')],
      ['429 answers', 429, errorBody('too_many_requests', 'later')],
      ['503 at capacity', 503, errorBody('at_capacity', 'full')],
      ['503 queue full', 503, errorBody('queue_full', 'full')],
    ])('does not count %s', async (_name, code, body) => {
      const client = clientWith(breakerSettings);
      orchestrator().get('/orchestrator/sessions').times(4).reply(code, body);
      for (let call = 0; call < 4; call += 1) await failureOf(client.list({}));
      const next = orchestrator().get('/orchestrator/sessions').reply(200, { sessions: [], next_cursor: null });

      await expect(client.list({})).resolves.toEqual({ sessions: [], next_cursor: null });
      expect(next.isDone()).toBe(true);
      expect(client.circuitState).toBe('closed');
    });

    it.each([
      ['500', 500],
      ['503 without a full queue', 503],
    ])('counts %s answers', async (_name, code) => {
      const client = clientWith(breakerSettings);
      orchestrator().get('/orchestrator/sessions').times(3).reply(code, errorBody('internal_error', 'down'));
      for (let call = 0; call < 3; call += 1) await failureOf(client.list({}));

      expect(client.circuitState).toBe('open');
    });

    it('resets the count of failures after an answer', async () => {
      const client = clientWith(breakerSettings);
      orchestrator()
        .get('/orchestrator/sessions/orch-1/status')
        .times(2)
        .replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:3100'))
        .get('/orchestrator/sessions/orch-1/status')
        .reply(404, errorBody('not_found', 'no'))
        .get('/orchestrator/sessions/orch-1/status')
        .times(2)
        .replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:3100'));
      for (let call = 0; call < 5; call += 1) await failureOf(client.getStatus('orch-1'));

      expect(client.circuitState).toBe('closed');
    });
  });

  describe('cancel', () => {
    it('posts the grace to the cancel endpoint and reads the answer', async () => {
      const scope = orchestrator()
        .post('/orchestrator/sessions/orch%2F1/cancel', { grace_ms: 0 })
        .reply(200, { session_id: 'orch/1', status: 'cancelled' });

      await expect(clientWith().cancel('orch/1', { grace_ms: 0 })).resolves.toEqual({ session_id: 'orch/1', status: 'cancelled' });
      expect(scope.isDone()).toBe(true);
    });

    it('waits for the grace on top of the kill timeout, since the orchestrator answers once the tree is gone', async () => {
      const client = clientWith({ ORCHESTRATOR_KILL_TIMEOUT_MS: '200', ORCHESTRATOR_RETRY_ATTEMPTS: '0' });
      orchestrator().post('/orchestrator/sessions/orch-1/cancel').delay(500).reply(200, { session_id: 'orch-1', status: 'cancelled' });

      await expect(client.cancel('orch-1', { grace_ms: 400 })).resolves.toEqual({ session_id: 'orch-1', status: 'cancelled' });
      expect(client.cancelTimeoutMs(400)).toBe(600);
    });

    it('times out after grace and kill timeout', async () => {
      const client = clientWith({ ORCHESTRATOR_KILL_TIMEOUT_MS: '100', ORCHESTRATOR_RETRY_ATTEMPTS: '0' });
      orchestrator().post('/orchestrator/sessions/orch-1/cancel').delay(1_000).reply(200, { session_id: 'orch-1', status: 'cancelled' });
      const started = Date.now();

      const failure = await failureOf(client.cancel('orch-1', { grace_ms: 150 }));

      expect(failure.failure).toBe('timeout');
      expect(failure.message).toContain('within 250 ms');
      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    });

    it('assumes the contract default grace when none is asked for', () => {
      expect(clientWith({ ORCHESTRATOR_KILL_TIMEOUT_MS: '300' }).cancelTimeoutMs()).toBe(10_300);
    });
  });

  describe('a full queue', () => {
    it.each(['queue_full', 'at_capacity'])(
      'is %s answered at once as queue_full with its Retry-After, counted as an answer',
      async (code) => {
        const client = clientWith({ ORCHESTRATOR_BREAKER_FAILURES: '1' });
        const scope = orchestrator().post('/orchestrator/sessions/spawn').reply(503, errorBody(code, 'full'), { 'Retry-After': '30' });
        const extra = orchestrator()
          .post('/orchestrator/sessions/spawn')
          .reply(201, { session_id: 'orch-1', status: 'pending', created_at: CREATED_AT });

        const failure = await failureOf(client.spawn(SPAWN_BODY, 'key-1'));

        expect(failure).toMatchObject({ failure: 'queue_full', code: 'queue_full', retryAfterMs: 30_000, answer: { status: 503, code } });
        expect(scope.isDone()).toBe(true);
        expect(extra.isDone()).toBe(false);
        expect(client.circuitState).toBe('closed');
      },
    );
  });

  describe('several nodes', () => {
    const NODE_B = 'http://orchestrator-b.test';
    const nodeB = () => nock(NODE_B, { reqheaders: { authorization: `Bearer ${API_KEY}` } });
    const twoNodes = (overrides: Record<string, string> = {}) =>
      clientWith({ ORCHESTRATOR_URL: `${BASE_URL},${NODE_B}`, ORCHESTRATOR_RETRY_ATTEMPTS: '0', ...overrides });

    it('spreads calls over the nodes in turn', async () => {
      const a = orchestrator().get('/orchestrator/sessions/orch-1/status').twice().reply(200, status('orch-1'));
      const b = nodeB().get('/orchestrator/sessions/orch-1/status').reply(200, status('orch-1'));
      const client = twoNodes();

      for (let call = 0; call < 3; call += 1) await client.getStatus('orch-1');

      expect(a.isDone()).toBe(true);
      expect(b.isDone()).toBe(true);
    });

    it.each([
      ['ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:3100'],
      ['ECONNRESET', 'socket hang up'],
      ['ENOTFOUND', 'getaddrinfo ENOTFOUND orchestrator.test'],
    ])('moves a spawn on to the next node at once on %s, with the same Idempotency-Key', async (code, message) => {
      const a = orchestrator()
        .matchHeader('idempotency-key', 'key-9')
        .post('/orchestrator/sessions/spawn')
        .replyWithError(networkError(code, message));
      const b = nodeB()
        .matchHeader('idempotency-key', 'key-9')
        .post('/orchestrator/sessions/spawn', (body: unknown) => JSON.stringify(body) === JSON.stringify(SPAWN_BODY))
        .reply(201, { session_id: 'orch-1', status: 'running', created_at: CREATED_AT });

      await expect(twoNodes().spawn(SPAWN_BODY, 'key-9')).resolves.toMatchObject({ session_id: 'orch-1' });
      expect(a.isDone()).toBe(true);
      expect(b.isDone()).toBe(true);
    });

    it('does not move on after a timeout, since the node may have taken the spawn', async () => {
      orchestrator()
        .post('/orchestrator/sessions/spawn')
        .delay(1_000)
        .reply(201, { session_id: 'orch-1', status: 'running', created_at: CREATED_AT });
      const b = nodeB()
        .post('/orchestrator/sessions/spawn')
        .reply(201, { session_id: 'orch-2', status: 'running', created_at: CREATED_AT });

      await expect(failureOf(twoNodes({ ORCHESTRATOR_SPAWN_TIMEOUT_MS: '50' }).spawn(SPAWN_BODY, 'key-1'))).resolves.toMatchObject({
        failure: 'timeout',
      });
      expect(b.isDone()).toBe(false);
    });

    it('does not move on after an answer, even a 500', async () => {
      orchestrator().get('/orchestrator/sessions').reply(500, errorBody('internal_error', 'bug'));
      const b = nodeB().get('/orchestrator/sessions').reply(200, { sessions: [], next_cursor: null });

      await expect(failureOf(twoNodes().list({}))).resolves.toMatchObject({ failure: 'rejected' });
      expect(b.isDone()).toBe(false);
    });

    it('is unreachable, counting one failure towards the breaker, only when no node takes the call', async () => {
      const client = twoNodes({ ORCHESTRATOR_BREAKER_FAILURES: '2' });
      orchestrator().get('/orchestrator/sessions/orch-1/status').replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED'));
      nodeB().get('/orchestrator/sessions/orch-1/status').replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED'));

      const failure = await failureOf(client.getStatus('orch-1'));

      expect(failure.failure).toBe('unreachable');
      expect(failure.message).toContain(NODE_B);
      expect(client.circuitState).toBe('closed');
    });

    it('reports health from the first node that answers', async () => {
      orchestrator().get('/health').replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED'));
      nodeB()
        .get('/health')
        .reply(200, {
          status: 'ok',
          version: '2',
          active_sessions: 1,
          node: 'b',
          queued_sessions: 0,
          nodes: [{ id: 'b', active_sessions: 1, capacity: 4 }],
        });

      await expect(twoNodes().health()).resolves.toMatchObject({ health: { node: 'b', nodes: [{ id: 'b', capacity: 4 }] } });
    });

    it('reports health down when no node answers', async () => {
      orchestrator().get('/health').replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED'));
      nodeB().get('/health').reply(401, errorBody('unauthorized', 'no'));

      await expect(failureOf(twoNodes().health())).resolves.toMatchObject({ failure: 'rejected', answer: { status: 401 } });
    });
  });
});
