import { type Dispatch, dispatchSchema, type ErrorBody, type Session, type Task, taskSchema } from '@mosaic/orchestrator-contract';
import { TestApi, type TestAnswer } from '../../../../test/support/api-app';
import { StubOrchestrator } from '../../../../test/support/stub-orchestrator';
import { PrismaService } from '../database/prisma.service';
import type { CreateTaskDto } from '../tasks/create-task.dto';
import type { DispatchTaskDto } from './dispatch-task.dto';

/** The dispatcher through the real HTTP app, on the real database, against a real (stub) orchestrator server. */
describe('TaskDispatcherService (integration)', () => {
  let stub: StubOrchestrator;
  const apps: TestApi[] = [];

  async function startApp(orchestratorUrl: string): Promise<TestApi> {
    const api = await TestApi.start({
      ORCHESTRATOR_URL: orchestratorUrl,
      ORCHESTRATOR_RETRY_ATTEMPTS: '1',
      ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: '10',
    });
    apps.push(api);
    return api;
  }

  async function createTask(api: TestApi, metadata: CreateTaskDto['metadata'] = {}): Promise<string> {
    const created = await api.request<Task>('POST', '/tasks', { body: { title: 'dispatch me', metadata } satisfies CreateTaskDto });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  /** A dispatch's answer: its session when accepted, its error otherwise. */
  function dispatch(api: TestApi, taskId: string, body?: DispatchTaskDto): Promise<TestAnswer<Dispatch & ErrorBody>> {
    return api.request('POST', `/tasks/${taskId}/dispatch`, body === undefined ? {} : { body });
  }

  const readTask = (api: TestApi, taskId: string) => api.request<Task>('GET', `/tasks/${taskId}`);
  const kill = (api: TestApi, id: string) => api.request<Session>('POST', `/orchestrator/sessions/${id}/kill`);
  const cancel = (api: TestApi, id: string, body?: unknown) =>
    api.request<Session & ErrorBody>('POST', `/orchestrator/sessions/${id}/cancel`, body === undefined ? {} : { body });

  beforeAll(async () => {
    stub = await StubOrchestrator.start();
  });

  afterEach(() => {
    stub.respond = () => undefined;
    stub.requests.length = 0;
  });

  afterAll(async () => {
    for (const api of apps) await api.close();
    await stub.close();
  });

  it('records the session, sends the spawn body of the contract, and answers 202', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app, { repo: 'mosaic', github_token: 'ghp_secret' });
    const answer = await dispatch(app, taskId, { requested_by: 'alice' });

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({
      task_id: taskId,
      session: { task_id: taskId, status: 'pending', attempt: 1, requested_by: 'alice' },
    });
    // Exactly the contract's shape: parsing drops any field the schema does not know.
    expect(dispatchSchema.parse(answer.body)).toEqual(answer.body);
    const [spawn] = stub.spawns();
    expect(spawn!.headers['idempotency-key']).toBe(answer.body.session.id);
    expect(spawn!.headers.authorization).toMatch(/^Bearer /);
    const body = spawn!.body as {
      task: Record<string, unknown>;
      context: Record<string, unknown>;
      callback_url: string;
      callback_token: string;
    };
    expect(body.callback_url).toBe(`http://127.0.0.1:3000/orchestrator/callbacks/${answer.body.session.id}`);
    expect(body.callback_token).toMatch(/^mcb_/);
    expect(body.context.schema_version).toBe(2);
    expect(JSON.stringify(body.task)).not.toContain('ghp_secret');
    expect(answer.body.session.orchestrator_session_id).toEqual(expect.any(String));

    const prisma = app.get(PrismaService);
    const row = await prisma.orchestratorSession.findUniqueOrThrow({ where: { id: answer.body.session.id } });
    expect(row.callbackTokenHash).not.toContain(body.callback_token);
    const task = await readTask(app, taskId);
    expect(task.body).toMatchObject({ status: 'pending', session: { id: answer.body.session.id } });
    expect(taskSchema.parse(task.body)).toEqual(task.body);
  });

  it('lets exactly one of two API instances dispatch a task when both try at once', async () => {
    const [first, second] = [await startApp(stub.url), await startApp(stub.url)];
    for (let round = 0; round < 5; round++) {
      const taskId = await createTask(first!);
      stub.requests.length = 0;
      const answers = await Promise.all([dispatch(first!, taskId), dispatch(second!, taskId)]);
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

    const answer = await dispatch(app, taskId);
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: { code: 'orchestrator_unreachable', message: expect.any(String) } });
    const task = await readTask(app, taskId);
    expect(task.body).toMatchObject({ status: 'failed', session: { status: 'failed', error: expect.stringContaining('spawn failed') } });

    const working = await startApp(stub.url);
    const again = await dispatch(working, taskId);
    expect(again.status).toBe(202);
    expect(again.body.session.attempt).toBe(2);
  });

  it("passes the orchestrator's 400 on as a 400 with its code and message (contract 7.1), and frees the task", async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app);
    stub.respond = (request) =>
      request.path.endsWith('/spawn')
        ? { status: 400, body: { error: { code: 'agent_unavailable', message: 'agent.kind: the codex agent is not installed' } } }
        : undefined;

    const answer = await dispatch(app, taskId);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      code: 'agent_unavailable',
      message: 'agent.kind: the codex agent is not installed',
      orchestrator: { status: 400, code: 'agent_unavailable' },
    });
    expect(stub.spawns()).toHaveLength(1);
    const task = await readTask(app, taskId);
    expect(task.body.session?.status).toBe('failed');
  });

  it('passes an orchestrator refusal other than a 400 on as 502 with its code, and frees the task', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app);
    stub.respond = (request) =>
      request.path.endsWith('/spawn') ? { status: 409, body: { error: { code: 'conflict', message: 'no' } } } : undefined;

    const answer = await dispatch(app, taskId);
    expect(answer.status).toBe(502);
    expect(answer.body.error).toMatchObject({ code: 'orchestrator_rejected', orchestrator: { status: 409, code: 'conflict' } });
    expect((await readTask(app, taskId)).body.session?.status).toBe('failed');
  });

  it('refuses a task whose context is over the size limit before calling the orchestrator', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app, { blob: 'x'.repeat(200 * 1024) });
    const answer = await dispatch(app, taskId);
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('task_context_too_large');
    expect(stub.spawns()).toHaveLength(0);
  });

  it('kills through the gateway and stays idempotent', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app);
    const dispatched = await dispatch(app, taskId);
    const id = dispatched.body.session.id;

    const killed = await kill(app, id);
    expect(killed).toMatchObject({ status: 200, body: { id, status: 'killed' } });
    const again = await kill(app, id);
    expect(again).toMatchObject({ status: 200, body: { id, status: 'killed' } });
    expect(stub.requests.filter((r) => r.path.endsWith('/kill'))).toHaveLength(1);
    expect((await readTask(app, taskId)).body.status).toBe('killed');
  });

  it("sends the task's priority and records a queued spawn as pending with its node and place in the queue", async () => {
    const app = await startApp(stub.url);
    const created = await app.request<Task>('POST', '/tasks', {
      body: { title: 'urgent work', priority: 'urgent' } satisfies CreateTaskDto,
    });
    stub.respond = (request) =>
      request.path.endsWith('/spawn')
        ? { status: 201, body: { session_id: 'queued-1', status: 'pending', created_at: new Date().toISOString(), queue_position: 3 } }
        : undefined;

    const answer = await dispatch(app, created.body.id);

    expect(answer.status).toBe(202);
    expect((stub.spawns()[0]!.body as { priority: unknown }).priority).toBe('urgent');
    expect(answer.body.session).toMatchObject({ status: 'pending', queue_position: 3, node: null });

    // A status answer moves the place in the queue; once running, the node is known and the place is gone.
    stub.respond = (request) =>
      request.path.endsWith('/status')
        ? { status: 200, body: { session_id: 'queued-1', status: 'pending', created_at: new Date().toISOString(), queue_position: 1 } }
        : undefined;
    const refreshed = await app.request<Session>('GET', `/orchestrator/sessions/${answer.body.session.id}?refresh=true`);
    expect(refreshed.body).toMatchObject({ status: 'pending', queue_position: 1 });
    stub.respond = (request) =>
      request.path.endsWith('/status')
        ? { status: 200, body: { session_id: 'queued-1', status: 'running', created_at: new Date().toISOString(), node: 'node-b:3100' } }
        : undefined;
    const running = await app.request<Session>('GET', `/orchestrator/sessions/${answer.body.session.id}?refresh=true`);
    expect(running.body).toMatchObject({ status: 'running', queue_position: null, node: 'node-b:3100' });
  });

  it("passes a full orchestrator queue on as 503 queue_full with the orchestrator's Retry-After, at once, and frees the task", async () => {
    for (const code of ['queue_full', 'at_capacity']) {
      const app = await startApp(stub.url);
      const taskId = await createTask(app);
      stub.requests.length = 0;
      stub.respond = (request) =>
        request.path.endsWith('/spawn')
          ? { status: 503, body: { error: { code, message: 'full' } }, headers: { 'retry-after': '42' } }
          : undefined;

      const answer = await dispatch(app, taskId);

      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('42');
      expect(answer.body.error).toMatchObject({ code: 'queue_full', orchestrator: { status: 503, code } });
      expect(stub.spawns()).toHaveLength(1);
      expect((await readTask(app, taskId)).body.session?.status).toBe('failed');
    }
  });

  it('cancels through the gateway with the grace asked for, and stays idempotent', async () => {
    const app = await startApp(stub.url);
    const taskId = await createTask(app);
    const dispatched = await dispatch(app, taskId);
    const id = dispatched.body.session.id;

    const cancelled = await cancel(app, id, { grace_ms: 2500 });
    expect(cancelled).toMatchObject({ status: 200, body: { id, status: 'cancelled', ended_at: expect.any(String) } });
    const again = await cancel(app, id);
    expect(again).toMatchObject({ status: 200, body: { id, status: 'cancelled' } });
    const sent = stub.requests.filter((r) => r.path.endsWith('/cancel'));
    expect(sent.map((r) => [r.path, r.body])).toEqual([
      [`/orchestrator/sessions/${dispatched.body.session.orchestrator_session_id}/cancel`, { grace_ms: 2500 }],
    ]);
    expect((await readTask(app, taskId)).body.status).toBe('cancelled');
    expect((await kill(app, id)).body.status).toBe('cancelled');
  });

  it('cancels without a body, leaving the grace to the orchestrator', async () => {
    const app = await startApp(stub.url);
    const dispatched = await dispatch(app, await createTask(app));

    expect((await cancel(app, dispatched.body.session.id)).body.status).toBe('cancelled');
    expect(stub.requests.find((r) => r.path.endsWith('/cancel'))!.body).toEqual({});
  });

  it.each([
    [{ grace_ms: -1 }, /^grace_ms: /],
    [{ grace_ms: 600_001 }, /^grace_ms: /],
    [{ grace_ms: 1.5 }, /^grace_ms: /],
    [{ grace_ms: '100' }, /^grace_ms: /],
    [{ grace: 100 }, /^grace: unknown field/],
  ])('refuses the cancel body %p with a 400 naming the field, without calling the orchestrator', async (body, message) => {
    const app = await startApp(stub.url);
    const dispatched = await dispatch(app, await createTask(app));

    const answer = await cancel(app, dispatched.body.session.id, body);

    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(message) });
    expect(stub.requests.filter((r) => r.path.endsWith('/cancel'))).toHaveLength(0);
  });

  it('answers 404 for a cancel of an unknown session', async () => {
    const app = await startApp(stub.url);
    const answer = await cancel(app, '00000000-0000-4000-8000-000000000000');
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
  });
});
