import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, dropTestDatabase } from '../../../../test/support/database';
import { sampleValue } from '../../../../test/support/metrics-text';
import { freePort } from '../../../../test/support/service-process';
import { StubOrchestrator } from '../../../../test/support/stub-orchestrator';
import { ApiConfig } from '../config/api-config';
import { createHttpApp } from '../http/http-app';
import { OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { OrchestratorSessionRepository } from '../orchestrator-gateway/session.repository';
import { ReconciliationService } from '../reconciliation/reconciliation.service';

const TOKEN = 'metrics-int-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** `/metrics` of the real app, on a database of its own (so session counts are exact), against a stub orchestrator. */
describe('API metrics (integration)', () => {
  let databaseUrl: string;
  let stub: StubOrchestrator;
  const apps: NestFastifyApplication[] = [];

  async function startApp(orchestratorUrl: string, env: Record<string, string> = {}): Promise<NestFastifyApplication> {
    const config = ApiConfig.fromEnvironment({
      DATABASE_URL: databaseUrl,
      ORCHESTRATOR_URL: orchestratorUrl,
      MOSAIC_API_TOKEN: TOKEN,
      ORCHESTRATOR_RETRY_ATTEMPTS: '1',
      RECONCILE_INTERVAL_MS: '3600000',
      RECONCILE_STALE_AFTER_MS: '1',
      ...env,
    });
    const app = await createHttpApp(config, { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    apps.push(app);
    return app;
  }

  async function scrape(app: NestFastifyApplication): Promise<string> {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.body;
  }

  /** Creates and dispatches a task; returns its session and the callback token the stub received. */
  async function dispatch(app: NestFastifyApplication): Promise<{ id: string; orchestratorId: string; token: string; status: number }> {
    const task = await app.inject({ method: 'POST', url: '/tasks', headers: AUTH, payload: { title: 'measure me' } });
    const answer = await app.inject({ method: 'POST', url: `/tasks/${task.json().id}/dispatch`, headers: AUTH, payload: {} });
    const spawn = stub.spawns().at(-1)!;
    const session = answer.json().session ?? {};
    return { id: session.id, orchestratorId: session.orchestrator_session_id, token: (spawn.body as { callback_token: string }).callback_token, status: answer.statusCode };
  }

  beforeAll(async () => {
    databaseUrl = await createTestDatabase('metrics', { migrate: true });
    stub = await StubOrchestrator.start();
  });

  afterEach(() => {
    stub.respond = () => undefined;
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await stub.close();
    await dropTestDatabase(databaseUrl);
  });

  it('times every orchestrator operation by outcome', async () => {
    const app = await startApp(stub.url);
    const calls = (operation: string, outcome: string, text: string) =>
      sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_count', { operation, outcome });

    const first = await dispatch(app);
    expect(first.status).toBe(202);
    expect((await app.inject({ method: 'GET', url: `/orchestrator/sessions/${first.id}?refresh=true`, headers: AUTH })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: `/orchestrator/sessions/${first.id}/kill`, headers: AUTH })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/health/orchestrator' })).statusCode).toBe(200);
    stub.respond = (request) =>
      request.path.split('?')[0] === '/orchestrator/sessions' ? { status: 200, body: { sessions: [], next_cursor: null } } : undefined;
    await app.get(OrchestratorClient).list({});
    stub.respond = () => ({ status: 400, body: { error: { code: 'bad_request', message: 'task: refused' } } });
    expect((await dispatch(app)).status).toBe(502);

    const text = await scrape(app);
    expect(calls('spawn', 'ok', text)).toBe(1);
    expect(calls('spawn', 'rejected', text)).toBe(1);
    expect(calls('status', 'ok', text)).toBe(1);
    expect(calls('kill', 'ok', text)).toBe(1);
    expect(calls('list', 'ok', text)).toBe(1);
    expect(calls('health', 'ok', text)).toBe(1);
    expect(sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_bucket', { operation: 'spawn', outcome: 'ok', le: '+Inf' })).toBe(1);
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
    };
    const post = (payload: object, token = session.token) =>
      app.inject({ method: 'POST', url: `/orchestrator/callbacks/${session.id}`, headers: { authorization: `Bearer ${token}` }, payload });

    expect((await post(event)).statusCode).toBe(202);
    expect((await post(event)).statusCode).toBe(202);
    expect((await post({ ...event, event_id: randomUUID(), sequence: 2, type: 'progress', data: {} })).statusCode).toBe(400);
    expect((await post({ ...event, type: 'surprise' })).statusCode).toBe(400);
    expect((await post(event, 'mcb_not-the-token')).statusCode).toBe(401);
    expect((await post({ ...event, type: 'log', data: { stream: 'stdout', line: 'x'.repeat(70 * 1024) } })).statusCode).toBe(413);

    const text = await scrape(app);
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'status', answer: '202' })).toBe(2);
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'progress', answer: '400' })).toBe(1);
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'unknown', answer: '400' })).toBe(1);
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'status', answer: '401' })).toBe(1);
    // Over the limit, the body is never parsed.
    expect(sampleValue(text, 'mosaic_callbacks_total', { type: 'unknown', answer: '413' })).toBe(1);
  });

  it('counts reconciliation runs and what they fixed, and sessions by status', async () => {
    const app = await startApp(stub.url);
    const lost = await dispatch(app);
    const moved = await dispatch(app);
    stub.respond = (request) => {
      if (request.path.includes(encodeURIComponent(lost.orchestratorId))) return { status: 404, body: { error: { code: 'not_found', message: 'gone' } } };
      if (request.path.includes(encodeURIComponent(moved.orchestratorId))) {
        return { status: 200, body: { session_id: moved.orchestratorId, status: 'completed', created_at: new Date().toISOString(), exit_code: 0 } };
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
    const statuses = ['spawning', 'pending', 'running', 'completed', 'failed', 'killed'];
    const counts = (metrics: string) => Object.fromEntries(statuses.map((status) => [status, sampleValue(metrics, 'mosaic_sessions', { status })]));
    expect(counts(text).failed).toBe(counts(before).failed! + 1);
    expect(counts(text).completed).toBe(counts(before).completed! + 1);
    const rows = await app.get(OrchestratorSessionRepository).countByStatus();
    expect(counts(text)).toEqual(rows);
  });

  it('reports the circuit breaker state: 0 closed, 2 open', async () => {
    const app = await startApp(`http://127.0.0.1:${await freePort()}`, { ORCHESTRATOR_BREAKER_FAILURES: '1', ORCHESTRATOR_BREAKER_HALF_OPEN_AFTER_MS: '600000' });
    expect(sampleValue(await scrape(app), 'mosaic_orchestrator_circuit_state')).toBe(0);

    expect((await app.inject({ method: 'GET', url: '/health/orchestrator' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/health/orchestrator' })).statusCode).toBe(503);

    const text = await scrape(app);
    expect(sampleValue(text, 'mosaic_orchestrator_circuit_state')).toBe(2);
    expect(sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_count', { operation: 'health', outcome: 'unreachable' })).toBe(1);
    expect(sampleValue(text, 'mosaic_orchestrator_call_duration_seconds_count', { operation: 'health', outcome: 'circuit_open' })).toBe(1);
  });
});
