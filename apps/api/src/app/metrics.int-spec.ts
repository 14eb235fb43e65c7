import { randomUUID } from 'node:crypto';
import type { CallbackEvent, Dispatch, Task } from '@mosaic/orchestrator-contract';
import { TestApi } from '../../../../test/support/api-app';
import { createTestDatabase, dropTestDatabase } from '../../../../test/support/database';
import { sampleValue } from '../../../../test/support/metrics-text';
import { freePort } from '../../../../test/support/service-process';
import { signatureHeaders } from '../../../../test/support/callback-signature';
import { StubOrchestrator } from '../../../../test/support/stub-orchestrator';
import { OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { ReconciliationService } from '../reconciliation/reconciliation.service';
import { CallbackSigning } from '../sessions/callback-signing.service';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import type { CreateTaskDto } from '../tasks/create-task.dto';

/** `/metrics` of the real app, on a database of its own (so session counts are exact), against a stub orchestrator. */
describe('API metrics (integration)', () => {
  let databaseUrl: string;
  let stub: StubOrchestrator;
  const apps: TestApi[] = [];

  async function startApp(orchestratorUrl: string, env: Record<string, string> = {}): Promise<TestApi> {
    const api = await TestApi.start({
      DATABASE_URL: databaseUrl,
      ORCHESTRATOR_URL: orchestratorUrl,
      ORCHESTRATOR_RETRY_ATTEMPTS: '1',
      RECONCILE_STALE_AFTER_MS: '1',
      // Every scrape counts afresh here, so each test sees its own changes.
      METRICS_SESSION_COUNT_MAX_AGE_MS: '0',
      ...env,
    });
    apps.push(api);
    return api;
  }

  async function scrape(api: TestApi): Promise<string> {
    const response = await api.request<string>('GET', '/metrics', { token: null });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.body;
  }

  /** Creates and dispatches a task; returns its session and the callback token the stub received. */
  async function dispatch(api: TestApi): Promise<{ id: string; orchestratorId: string; token: string; status: number }> {
    const task = await api.request<Task>('POST', '/tasks', { body: { title: 'measure me' } satisfies CreateTaskDto });
    const answer = await api.request<Partial<Dispatch>>('POST', `/tasks/${task.body.id}/dispatch`, { body: {} });
    const session = answer.body.session;
    // Only an accepted dispatch reached the stub.
    const token = session === undefined ? '' : (stub.spawns().at(-1)!.body as { callback_token: string }).callback_token;
    return { id: session?.id ?? '', orchestratorId: session?.orchestrator_session_id ?? '', token, status: answer.status };
  }

  const health = (api: TestApi) => api.request('GET', '/health/orchestrator', { token: null });

  beforeAll(async () => {
    databaseUrl = await createTestDatabase('metrics', { migrate: true });
    stub = await StubOrchestrator.start();
  });

  afterEach(() => {
    stub.respond = () => undefined;
  });

  afterAll(async () => {
    for (const api of apps) await api.close();
    await stub.close();
    await dropTestDatabase(databaseUrl);
  });

  it('times every orchestrator operation by outcome', async () => {
    const app = await startApp(stub.url);
    const calls = (operation: string, outcome: string, text: string) =>
      sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_count', { operation, outcome });

    const first = await dispatch(app);
    expect(first.status).toBe(202);
    expect((await app.request('GET', `/orchestrator/sessions/${first.id}?refresh=true`)).status).toBe(200);
    expect((await app.request('POST', `/orchestrator/sessions/${first.id}/kill`)).status).toBe(200);
    expect((await health(app)).status).toBe(200);
    stub.respond = (request) =>
      request.path.split('?')[0] === '/orchestrator/sessions' ? { status: 200, body: { sessions: [], next_cursor: null } } : undefined;
    await app.get(OrchestratorClient).list({});
    stub.respond = () => ({ status: 409, body: { error: { code: 'conflict', message: 'task: refused' } } });
    expect((await dispatch(app)).status).toBe(502);

    const text = await scrape(app);
    expect(calls('spawn', 'ok', text)).toBe(1);
    expect(calls('spawn', 'rejected', text)).toBe(1);
    expect(calls('status', 'ok', text)).toBe(1);
    expect(calls('kill', 'ok', text)).toBe(1);
    expect(calls('list', 'ok', text)).toBe(1);
    expect(calls('health', 'ok', text)).toBe(1);
    expect(sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_bucket', { operation: 'spawn', outcome: 'ok', le: '+Inf' })).toBe(
      1,
    );
    // Default process metrics come with it.
    expect(sampleValue(text, 'process_cpu_user_seconds_total')).toEqual(expect.any(Number));
  });

  it('counts callbacks by event type and answer, those refused before any controller code included', async () => {
    const app = await startApp(stub.url);
    const session = await dispatch(app);
    const event = {
      event_id: randomUUID(),
      session_id: session.orchestratorId,
      sequence: 1,
      type: 'status',
      status: 'running',
      timestamp: new Date().toISOString(),
      data: {},
    } satisfies CallbackEvent;
    // Signed as the orchestrator signs them: the dispatched session requires it.
    const secret = app.get(CallbackSigning).secretFor(session.id);
    const post = (payload: Record<string, unknown>, token = session.token) => {
      const body = JSON.stringify(payload);
      return app.request('POST', `/orchestrator/callbacks/${session.id}`, {
        body,
        token,
        headers: signatureHeaders(secret, String(payload.event_id), body),
      });
    };

    expect((await post(event)).status).toBe(202);
    expect((await post(event)).status).toBe(202);
    expect((await post({ ...event, event_id: randomUUID(), sequence: 2, type: 'progress', data: {} })).status).toBe(400);
    expect((await post({ ...event, type: 'surprise' })).status).toBe(400);
    expect((await post(event, 'mcb_not-the-token')).status).toBe(401);
    expect((await post({ ...event, type: 'log', data: { stream: 'stdout', line: 'x'.repeat(70 * 1024) } })).status).toBe(413);

    const text = await scrape(app);
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'status', answer: '202' })).toBe(2);
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'progress', answer: '400' })).toBe(1);
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'unknown', answer: '400' })).toBe(1);
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'status', answer: '401' })).toBe(1);
    // Read (only an artifact may be bigger), then refused for its type.
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'log', answer: '413' })).toBe(1);
  });

  it('counts reconciliation runs and what they fixed, and sessions by status', async () => {
    const app = await startApp(stub.url);
    const lost = await dispatch(app);
    const moved = await dispatch(app);
    stub.respond = (request) => {
      if (request.path.includes(encodeURIComponent(lost.orchestratorId)))
        return { status: 404, body: { error: { code: 'not_found', message: 'gone' } } };
      if (request.path.includes(encodeURIComponent(moved.orchestratorId))) {
        return {
          status: 200,
          body: { session_id: moved.orchestratorId, status: 'completed', created_at: new Date().toISOString(), exit_code: 0 },
        };
      }
      return undefined;
    };
    const before = await scrape(app);
    const run = await app.get(ReconciliationService).runOnce();
    expect(run).toMatchObject({ ran: true, lost: 1 });

    const text = await scrape(app);
    expect(sampleValue(text, 'mosaic_reconciliation_runs_total', { outcome: 'completed' })).toBe(1);
    expect(sampleValue(text, 'mosaic_reconciliation_fixes_total', { result: 'lost' })).toBe(1);
    expect(sampleValue(text, 'mosaic_reconciliation_fixes_total', { result: 'changed' })).toBe(run.changed - run.lost);
    expect(run.changed - run.lost).toBeGreaterThanOrEqual(1);

    // Sessions move between statuses; their total stays, and the database says how many there are of each.
    const statuses = ['spawning', 'pending', 'running', 'completed', 'failed', 'killed', 'cancelled'];
    const counts = (metrics: string) =>
      Object.fromEntries(statuses.map((status) => [status, sampleValue(metrics, 'mosaic_sessions', { status })]));
    expect(counts(text).failed).toBe(counts(before).failed! + 1);
    expect(counts(text).completed).toBe(counts(before).completed! + 1);
    const rows = await app.get(OrchestratorSessionRepository).countByStatus();
    expect(counts(text)).toEqual(rows);
  });

  it('counts sessions by status at most once per METRICS_SESSION_COUNT_MAX_AGE_MS, however often /metrics is scraped', async () => {
    const app = await startApp(stub.url, { METRICS_SESSION_COUNT_MAX_AGE_MS: '60000' });
    const counting = jest.spyOn(app.get(OrchestratorSessionRepository), 'countByStatus');

    const scrapes = await Promise.all([scrape(app), scrape(app), scrape(app)]);
    scrapes.push(await scrape(app));

    expect(counting).toHaveBeenCalledTimes(1);
    expect(new Set(scrapes.map((text) => sampleValue(text, 'mosaic_sessions', { status: 'running' }))).size).toBe(1);
    expect(sampleValue(scrapes[0]!, 'mosaic_callbacks_queued')).toBe(0);
  });

  it('reports the circuit breaker state: 0 closed, 2 open', async () => {
    const app = await startApp(`http://127.0.0.1:${await freePort()}`, {
      ORCHESTRATOR_BREAKER_FAILURES: '1',
      ORCHESTRATOR_BREAKER_HALF_OPEN_AFTER_MS: '600000',
    });
    expect(sampleValue(await scrape(app), 'mosaic_orchestrator_circuit_state')).toBe(0);

    // Health probes never move the breaker; a dispatch that cannot reach the orchestrator opens it (its retry then finds it open).
    expect((await health(app)).status).toBe(503);
    expect(sampleValue(await scrape(app), 'mosaic_orchestrator_circuit_state')).toBe(0);
    expect((await dispatch(app)).status).toBe(503);
    expect((await health(app)).status).toBe(503);

    const text = await scrape(app);
    expect(sampleValue(text, 'mosaic_orchestrator_circuit_state')).toBe(2);
    expect(sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_count', { operation: 'health', outcome: 'unreachable' })).toBe(1);
    expect(sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_count', { operation: 'spawn', outcome: 'circuit_open' })).toBe(1);
    expect(sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_count', { operation: 'health', outcome: 'circuit_open' })).toBe(1);
  });
});
