import { hashSecret } from '@mosaic/http-kit';
import type {
  CreatedOperatorKey,
  Dispatch,
  ErrorBody,
  OperatorKey,
  OperatorScope,
  SessionEvent,
  Task,
} from '@mosaic/orchestrator-contract';
import { TestApi } from '../../../../test/support/api-app';
import { capturePrintedOutput } from '../../../../test/support/printed-output';
import { seedServicesOf, seedSession } from '../../../../test/support/seed';
import { StubOrchestrator } from '../../../../test/support/stub-orchestrator';
import { PrismaService } from '../database/prisma.service';
import type { CreateOperatorKeyDto } from '../auth/create-operator-key.dto';

/** Operator keys on the real app: what each scope may do, revocation, the audit trail, and no secret in any log. */
describe('operator keys (integration)', () => {
  let stub: StubOrchestrator;
  let api: TestApi;
  // Everything the process prints while this file runs, for the test that no secret reaches a log line.
  let printed: ReturnType<typeof capturePrintedOutput>;
  const issued: string[] = [];

  beforeAll(async () => {
    printed = capturePrintedOutput();
    stub = await StubOrchestrator.start();
    // Logging on: the last test reads what the process printed.
    api = await TestApi.start({ ORCHESTRATOR_URL: stub.url, ORCHESTRATOR_RETRY_ATTEMPTS: '0' }, {});
  });

  afterAll(async () => {
    await api?.close();
    await stub?.close();
    printed?.restore();
  });

  async function createKey(name: string, scopes: OperatorScope[]): Promise<CreatedOperatorKey> {
    const answer = await api.request<CreatedOperatorKey>('POST', '/operator-keys', {
      body: { name, scopes } satisfies CreateOperatorKeyDto,
    });
    expect(answer.status).toBe(201);
    issued.push(answer.body.key);
    return answer.body;
  }

  it('shows a new key once, keeps only its hash, and lists keys without it', async () => {
    const created = await createKey('reader', ['read']);

    expect(created).toEqual({
      id: expect.any(String),
      name: 'reader',
      scopes: ['read'],
      key: expect.stringMatching(/^mk_[A-Za-z0-9_-]{43}$/),
      created_at: expect.any(String),
      revoked_at: null,
    });
    const row = await api.get(PrismaService).operatorKey.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.keyHash).toBe(hashSecret(created.key));
    const listed = await api.request<{ keys: OperatorKey[] }>('GET', '/operator-keys');
    expect(listed.body.keys.find((key) => key.id === created.id)).toEqual({
      id: created.id,
      name: 'reader',
      scopes: ['read'],
      created_at: created.created_at,
      revoked_at: null,
    });
    expect(JSON.stringify(listed.body)).not.toContain(created.key);
  });

  it.each([
    [{ name: 'x', scopes: [] }, 'scopes'],
    [{ name: 'x', scopes: ['admin'] }, 'scopes'],
    [{ name: '', scopes: ['read'] }, 'name'],
    [{ scopes: ['read'] }, 'name'],
  ])('refuses %j with a 400 naming %s', async (body, field) => {
    const answer = await api.request<ErrorBody>('POST', '/operator-keys', { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain(field);
  });

  describe('each scope against each endpoint', () => {
    const sessionId = '6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b';
    const endpoints: [method: 'GET' | 'POST' | 'DELETE', url: string, needs: OperatorScope | 'admin', body?: object][] = [
      ['POST', '/tasks', 'dispatch', { title: 'scoped' }],
      ['GET', `/tasks/${sessionId}`, 'read'],
      ['POST', `/tasks/${sessionId}/dispatch`, 'dispatch', {}],
      ['GET', '/orchestrator/sessions', 'read'],
      ['GET', `/orchestrator/sessions/${sessionId}`, 'read'],
      ['POST', `/orchestrator/sessions/${sessionId}/kill`, 'stop'],
      ['POST', `/orchestrator/sessions/${sessionId}/cancel`, 'stop', { grace_ms: 0 }],
      ['POST', '/operator-keys', 'admin', { name: 'made by a key', scopes: ['read'] }],
      ['GET', '/operator-keys', 'admin'],
      ['DELETE', `/operator-keys/${sessionId}`, 'admin'],
    ];
    const keys: Partial<Record<OperatorScope, string>> = {};

    beforeAll(async () => {
      for (const scope of ['read', 'dispatch', 'stop'] as const) keys[scope] = (await createKey(`only ${scope}`, [scope])).key;
    });

    it.each(
      endpoints.flatMap(([method, url, needs, body]) =>
        (['read', 'dispatch', 'stop'] as const).map((scope) => [scope, method, url, needs, body] as const),
      ),
    )('a key with %s on %s %s', async (scope, method, url, needs, body) => {
      const answer = await api.request<ErrorBody>(method, url, { token: keys[scope]!, ...(body === undefined ? {} : { body }) });
      if (needs === scope) {
        expect([401, 403]).not.toContain(answer.status);
      } else {
        expect(answer.status).toBe(403);
        expect(answer.body).toEqual({ error: { code: 'insufficient_scope', message: expect.any(String) } });
      }
    });
  });

  it('refuses a revoked key on its very next request, and revoking again changes nothing', async () => {
    const created = await createKey('short-lived', ['read']);
    expect((await api.request('GET', '/orchestrator/sessions', { token: created.key })).status).toBe(200);

    const revoked = await api.request<OperatorKey>('DELETE', `/operator-keys/${created.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    const refused = await api.request<ErrorBody>('GET', '/orchestrator/sessions', { token: created.key });
    expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 401, code: 'unauthorized' });
    const again = await api.request<OperatorKey>('DELETE', `/operator-keys/${created.id}`);
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
    expect((await api.request('DELETE', '/operator-keys/3c9d1f0e-2b7a-4c5d-9e8f-0a1b2c3d4e5f')).status).toBe(404);
  });

  it('refuses a name another key has, a revoked one too, with 409 conflict naming the field; the first key stays alone', async () => {
    const first = await createKey('twin', ['read']);
    const again = await api.request<ErrorBody>('POST', '/operator-keys', { body: { name: 'twin', scopes: ['read', 'stop'] } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      error: { code: 'conflict', message: 'name: an operator key named "twin" exists already (revoked keys keep theirs)' },
    });
    expect((await api.request<OperatorKey>('DELETE', `/operator-keys/${first.id}`)).status).toBe(200);
    const afterRevoke = await api.request<ErrorBody>('POST', '/operator-keys', { body: { name: 'twin', scopes: ['read'] } });
    expect(afterRevoke.status).toBe(409);
    // Many at once, on one database: the unique index, not a read before the insert, lets exactly one through.
    const racing = await Promise.all(
      Array.from({ length: 8 }, () => api.request<ErrorBody>('POST', '/operator-keys', { body: { name: 'racer', scopes: ['read'] } })),
    );
    expect(racing.map((answer) => answer.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const names = (await api.request<{ keys: OperatorKey[] }>('GET', '/operator-keys')).body.keys.map((key) => key.name);
    expect(names.filter((name) => name === 'twin' || name === 'racer')).toEqual(['racer', 'twin']);
  });

  it('refuses the names the event log gives the administrator and the API itself', async () => {
    for (const name of ['admin', ' Budget ', 'RECONCILIATION']) {
      const answer = await api.request<ErrorBody>('POST', '/operator-keys', { body: { name, scopes: ['read'] } });
      expect({ status: answer.status, code: answer.body.error.code, message: answer.body.error.message }).toEqual({
        status: 400,
        code: 'bad_request',
        message: expect.stringContaining('name: name must not be admin, budget, reconciliation'),
      });
    }
  });

  it('records who dispatched and who killed in the session event log', async () => {
    const dispatcher = await createKey('ci-bot', ['dispatch', 'read']);
    const stopper = await createKey('on-call', ['stop']);
    const task = await api.request<Task>('POST', '/tasks', { token: dispatcher.key, body: { title: 'audited' } });
    const dispatched = await api.request<Dispatch>('POST', `/tasks/${task.body.id}/dispatch`, { token: dispatcher.key, body: {} });
    expect(dispatched.status).toBe(202);
    const killed = await api.request('POST', `/orchestrator/sessions/${dispatched.body.session.id}/kill`, { token: stopper.key });
    expect(killed.status).toBe(200);
    const unconfirmed = await seedSession(seedServicesOf(api), { status: 'spawning' });
    expect((await api.request('POST', `/orchestrator/sessions/${unconfirmed.id}/kill`)).status).toBe(200);

    const events = async (id: string) => (await api.request<{ events: SessionEvent[] }>('GET', `/orchestrator/sessions/${id}`)).body.events;
    expect((await events(dispatched.body.session.id)).map((event) => [event.type, event.status, event.data])).toEqual([
      ['status', 'spawning', { actor: 'ci-bot', actor_key_id: dispatcher.id }],
      ['status', 'killed', { actor: 'on-call', actor_key_id: stopper.id }],
    ]);
    expect((await events(unconfirmed.id)).map((event) => [event.status, event.data])).toEqual([['killed', { actor: 'admin' }]]);
  });

  it('records who cancelled in the session event log', async () => {
    const stopper = await createKey('night-shift', ['stop']);
    const task = await api.request<Task>('POST', '/tasks', { body: { title: 'cancel me' } });
    const dispatched = await api.request<Dispatch>('POST', `/tasks/${task.body.id}/dispatch`, { body: {} });
    const cancelled = await api.request('POST', `/orchestrator/sessions/${dispatched.body.session.id}/cancel`, {
      token: stopper.key,
      body: { grace_ms: 100 },
    });
    expect(cancelled.status).toBe(200);
    const unconfirmed = await seedSession(seedServicesOf(api), { status: 'spawning' });
    const early = await api.request<{ status: string; error: string }>('POST', `/orchestrator/sessions/${unconfirmed.id}/cancel`);
    expect(early.body).toMatchObject({ status: 'cancelled', error: 'cancelled before the orchestrator acknowledged the spawn' });

    const events = async (id: string) => (await api.request<{ events: SessionEvent[] }>('GET', `/orchestrator/sessions/${id}`)).body.events;
    expect((await events(dispatched.body.session.id)).map((event) => [event.type, event.status, event.data])).toEqual([
      ['status', 'spawning', { actor: 'admin' }],
      ['status', 'cancelled', { actor: 'night-shift', actor_key_id: stopper.id }],
    ]);
    expect((await events(unconfirmed.id)).map((event) => [event.status, event.data])).toEqual([['cancelled', { actor: 'admin' }]]);
  });

  it('never prints a key or its hash, nor shows one in /metrics or the OpenAPI document', async () => {
    const metrics = (await api.request<string>('GET', '/metrics', { token: null })).body;
    const document = JSON.stringify((await api.request('GET', '/docs/json', { token: null })).body);
    const output = printed.text() + metrics + document;
    expect(issued.length).toBeGreaterThan(3);
    for (const key of issued) {
      expect(output).not.toContain(key);
      expect(output).not.toContain(hashSecret(key));
    }
  });
});
