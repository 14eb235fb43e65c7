import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { testDatabaseUrl } from '../../../../test/support/database';
import { StubOrchestrator } from '../../../../test/support/stub-orchestrator';
import { ApiConfig } from '../config/api-config';
import { PrismaService } from '../database/prisma.service';
import { createHttpApp } from '../http/http-app';

const TOKEN = 'dispatcher-int-token';

/** The dispatcher through the real HTTP app, on the real database, against a real (stub) orchestrator server. */
describe('TaskDispatcherService (integration)', () => {
  let stub: StubOrchestrator;
  const apps: NestFastifyApplication[] = [];

  async function startApp(orchestratorUrl: string): Promise<NestFastifyApplication> {
    const config = ApiConfig.fromEnvironment({
      DATABASE_URL: testDatabaseUrl(),
      ORCHESTRATOR_URL: orchestratorUrl,
      MOSAIC_API_TOKEN: TOKEN,
      ORCHESTRATOR_RETRY_ATTEMPTS: '1',
      ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: '10',
      RECONCILE_INTERVAL_MS: '3600000',
    });
    const app = await createHttpApp(config, { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    apps.push(app);
    return app;
  }

  async function inject(app: NestFastifyApplication, method: 'GET' | 'POST', url: string, payload?: object) {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(payload ? { payload } : {}) });
    return { status: response.statusCode, body: response.json() };
  }

  async function createTask(app: NestFastifyApplication, metadata: object = {}): Promise<string> {
    const created = await inject(app, 'POST', '/tasks', { title: 'dispatch me', metadata });
    expect(created.status).toBe(201);
    return created.body.id as string;
  }

  beforeAll(async () => {
    stub = await StubOrchestrator.start();
  });

  afterEach(() => {
    stub.respond = () => undefined;
    stub.requests.length = 0;
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await stub.close();
  });

  it('records the session, sends the spawn body of the contract, and answers 202', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app, { repo: 'mosaic', github_token: 'ghp_secret' });
    const answer = await inject(app, 'POST', `/tasks/${taskId}/dispatch`, { requested_by: 'alice' });

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ task_id: taskId, session: { task_id: taskId, status: 'pending', attempt: 1, requested_by: 'alice' } });
    const [spawn] = stub.spawns();
    expect(spawn!.headers['idempotency-key']).toBe(answer.body.session.id);
    expect(spawn!.headers.authorization).toMatch(/^Bearer /);
    const body = spawn!.body as { task: Record<string, unknown>; context: Record<string, unknown>; callback_url: string; callback_token: string };
    expect(body.callback_url).toBe(`http://127.0.0.1:3000/orchestrator/callbacks/${answer.body.session.id}`);
    expect(body.callback_token).toMatch(/^mcb_/);
    expect(body.context.schema_version).toBe(1);
    expect(JSON.stringify(body.task)).not.toContain('ghp_secret');
    expect(answer.body.session.orchestrator_session_id).toEqual(expect.any(String));

    const prisma = app.get(PrismaService);
    const row = await prisma.orchestratorSession.findUniqueOrThrow({ where: { id: answer.body.session.id } });
    expect(row.callbackTokenHash).not.toContain(body.callback_token);
    const task = await inject(app, 'GET', `/tasks/${taskId}`);
    expect(task.body).toMatchObject({ status: 'pending', session: { id: answer.body.session.id } });
  });

  it('lets exactly one of two API instances dispatch a task when both try at once', async () => {
    const [first, second] = [await startApp(stub.url), await startApp(stub.url)];
    for (let round = 0; round < 5; round++) {
      const taskId = await createTask(first!);
      stub.requests.length = 0;
      const answers = await Promise.all([
        inject(first!, 'POST', `/tasks/${taskId}/dispatch`),
        inject(second!, 'POST', `/tasks/${taskId}/dispatch`),
      ]);
      expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
      expect(stub.spawns()).toHaveLength(1);
      const sessions = await first!.get(PrismaService).orchestratorSession.count({ where: { taskId } });
      expect(sessions).toBe(1);
    }
  });

  it('ends the session failed, answers 503 and frees the task when the orchestrator cannot be reached', async () => {
    const down = await StubOrchestrator.start();
    const downUrl = down.url;
    await down.close();
    const app = await startApp(downUrl);
    const taskId = await createTask(app);

    const answer = await inject(app, 'POST', `/tasks/${taskId}/dispatch`);
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: { code: 'orchestrator_unreachable', message: expect.any(String) } });
    const task = await inject(app, 'GET', `/tasks/${taskId}`);
    expect(task.body).toMatchObject({ status: 'failed', session: { status: 'failed', error: expect.stringContaining('spawn failed') } });

    const working = await startApp(stub.url);
    const again = await inject(working, 'POST', `/tasks/${taskId}/dispatch`);
    expect(again.status).toBe(202);
    expect(again.body.session.attempt).toBe(2);
  });

  it('passes the orchestrator refusal on as 502 with its code, and frees the task', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app);
    stub.respond = (request) =>
      request.path.endsWith('/spawn') ? { status: 400, body: { error: { code: 'bad_request', message: 'task.title: too short' } } } : undefined;

    const answer = await inject(app, 'POST', `/tasks/${taskId}/dispatch`);
    expect(answer.status).toBe(502);
    expect(answer.body.error).toMatchObject({ code: 'orchestrator_rejected', orchestrator: { status: 400, code: 'bad_request' } });
    expect(stub.spawns()).toHaveLength(1);
    const task = await inject(app, 'GET', `/tasks/${taskId}`);
    expect(task.body.session.status).toBe('failed');
  });

  it('refuses a task whose context is over the size limit before calling the orchestrator', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app, { blob: 'x'.repeat(200 * 1024) });
    const answer = await inject(app, 'POST', `/tasks/${taskId}/dispatch`);
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('task_context_too_large');
    expect(stub.spawns()).toHaveLength(0);
  });

  it('kills through the gateway and stays idempotent', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app);
    const dispatched = await inject(app, 'POST', `/tasks/${taskId}/dispatch`);
    const id = dispatched.body.session.id as string;

    const killed = await inject(app, 'POST', `/orchestrator/sessions/${id}/kill`);
    expect(killed).toMatchObject({ status: 200, body: { id, status: 'killed' } });
    const again = await inject(app, 'POST', `/orchestrator/sessions/${id}/kill`);
    expect(again).toMatchObject({ status: 200, body: { id, status: 'killed' } });
    expect(stub.requests.filter((r) => r.path.endsWith('/kill'))).toHaveLength(1);
    expect((await inject(app, 'GET', `/tasks/${taskId}`)).body.status).toBe('killed');
  });
});
