import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { liveDescendants, waitForNoProcesses } from '../support/process-table';
import { freePort, startService, withServiceOutput, type ServiceProcess } from '../support/service-process';

const ORCHESTRATOR_ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const ORCHESTRATOR_KEY = 'e2e-gateway-orchestrator-key';
const OPERATOR_TOKEN = 'e2e-gateway-operator-token';

jest.setTimeout(60_000);

interface SessionBody {
  id: string;
  task_id: string;
  orchestrator_session_id: string | null;
  status: string;
  error: string | null;
  last_sequence: number;
  events?: { sequence: number; type: string; status: string | null }[];
}

/**
 * The built API against a real orchestrator process, on the test run's
 * database: every behaviour operators rely on, over real HTTP.
 */
describe('API ⇄ orchestrator (built services)', () => {
  let orchestratorPort: number;
  let orchestrator: ServiceProcess | undefined;
  let api: ServiceProcess | undefined;
  const agentPids = new Set<number>();

  function startOrchestrator(): Promise<ServiceProcess> {
    return startService({
      name: 'orchestrator',
      entry: ORCHESTRATOR_ENTRY,
      port: orchestratorPort,
      env: { ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY, SESSION_TIMEOUT_MS: '60000', SHUTDOWN_GRACE_MS: '1000' },
    });
  }

  function startApi(env: Record<string, string> = {}): Promise<ServiceProcess> {
    return startService({
      name: 'api',
      entry: API_ENTRY,
      healthPath: '/health/orchestrator',
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ORCHESTRATOR_URL: `http://127.0.0.1:${orchestratorPort}`,
        ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
        ORCHESTRATOR_RETRY_ATTEMPTS: '1',
        ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: '50',
        ORCHESTRATOR_HEALTH_TIMEOUT_MS: '500',
        ORCHESTRATOR_BREAKER_HALF_OPEN_AFTER_MS: '200',
        RECONCILE_INTERVAL_MS: '200',
        RECONCILE_STALE_AFTER_MS: '5000',
        ...env,
      },
    });
  }

  const call = <T = unknown>(base: ServiceProcess, method: string, path: string, body?: unknown) =>
    request<T>(method, `${base.url}${path}`, { body, token: OPERATOR_TOKEN });

  async function createTask(metadata: Record<string, unknown> = {}): Promise<string> {
    const created = await call<{ id: string; status: string }>(api!, 'POST', '/tasks', { title: 'e2e task', metadata });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('open');
    return created.body.id;
  }

  async function dispatch(taskId: string) {
    const answer = await call<{ task_id: string; session: SessionBody }>(api!, 'POST', `/tasks/${taskId}/dispatch`);
    if (answer.status === 202 && orchestrator) {
      for (const info of liveDescendants(orchestrator.pid)) agentPids.add(info.pid);
    }
    return answer;
  }

  function waitForSession(id: string, status: string, timeoutMs = 20_000): Promise<SessionBody> {
    return eventually(async () => {
      const { body } = await call<SessionBody>(api!, 'GET', `/orchestrator/sessions/${id}`);
      expect(body).toMatchObject({ id, status });
      return body;
    }, timeoutMs);
  }

  function waitForTree(pid: number, size: number): Promise<number[]> {
    return eventually(() => {
      const tree = liveDescendants(pid).map((info) => info.pid);
      expect(tree.length).toBeGreaterThanOrEqual(size);
      return tree;
    }, 10_000);
  }

  const withOutput = (body: () => Promise<void>) => withServiceOutput(() => [api, orchestrator], body, 10_000);

  beforeAll(async () => {
    orchestratorPort = await freePort();
    orchestrator = await startOrchestrator();
    api = await startApi();
  });

  afterAll(async () => {
    await api?.stop();
    await orchestrator?.stop();
    for (const pid of agentPids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
    }
    await waitForNoProcesses([...agentPids], 5_000);
  });

  it('refuses operator calls without the operator token, in the contract error shape', async () => {
    const answer = await request('GET', `${api!.url}/orchestrator/sessions`);
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it(
    'creates, dispatches and completes a task through callbacks, with its events in sequence order',
    withOutput(async () => {
      const taskId = await createTask({ sample_agent: { steps: 3, step_ms: 20 } });
      const dispatched = await dispatch(taskId);
      expect(dispatched.status).toBe(202);
      expect(dispatched.body.task_id).toBe(taskId);
      expect(dispatched.body.session.orchestrator_session_id).toEqual(expect.any(String));
      expect(['pending', 'running']).toContain(dispatched.body.session.status);

      const session = await waitForSession(dispatched.body.session.id, 'completed');
      const sequences = session.events!.map((event) => event.sequence);
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      // First the API's own record of who dispatched (sequence 0), then the orchestrator's events from 1 on.
      expect(session.events![0]).toMatchObject({
        event_id: 'api-dispatch',
        sequence: 0,
        type: 'status',
        status: 'spawning',
        data: { actor: 'admin' },
      });
      expect(sequences[1]).toBe(1);
      expect(session.last_sequence).toBe(sequences.at(-1));
      expect(session.events!.filter((event) => event.type === 'progress')).toHaveLength(3);
      expect(session.events!.at(-1)).toMatchObject({ type: 'status', status: 'completed' });

      const task = await call<{ status: string; session: SessionBody }>(api!, 'GET', `/tasks/${taskId}`);
      expect(task.body.status).toBe('completed');
      expect(task.body.session.id).toBe(session.id);

      const listed = await call<{ sessions: SessionBody[]; next_cursor: string | null }>(
        api!,
        'GET',
        '/orchestrator/sessions?status=completed&limit=500',
      );
      expect(listed.body.sessions.map((s) => s.id)).toContain(session.id);

      const refreshed = await call<SessionBody>(api!, 'GET', `/orchestrator/sessions/${session.id}?refresh=true`);
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.status).toBe('completed');
    }),
  );

  it(
    'refuses a second dispatch while a session is active, and kills it (idempotently) with its process tree',
    withOutput(async () => {
      const taskId = await createTask({ sample_agent: { duration_ms: 60_000, children: 2 } });
      const first = await dispatch(taskId);
      expect(first.status).toBe(202);
      const second = await dispatch(taskId);
      expect(second.status).toBe(409);
      expect(second.body).toEqual({ error: { code: 'conflict', message: expect.stringContaining(taskId) } });

      await waitForSession(first.body.session.id, 'running');
      // The agent, its two children and their two grandchildren.
      const tree = await waitForTree(orchestrator!.pid, 5);

      const killed = await call<SessionBody>(api!, 'POST', `/orchestrator/sessions/${first.body.session.id}/kill`);
      expect(killed.status).toBe(200);
      expect(killed.body.status).toBe('killed');
      await waitForNoProcesses(tree, 2_000);

      const again = await call<SessionBody>(api!, 'POST', `/orchestrator/sessions/${first.body.session.id}/kill`);
      expect(again.status).toBe(200);
      expect(again.body.status).toBe('killed');
      const task = await call<{ status: string }>(api!, 'GET', `/tasks/${taskId}`);
      expect(task.body.status).toBe('killed');
    }),
  );

  it(
    'cancels a session gracefully through the real orchestrator: the agent stops on SIGTERM, its tree gone when the answer comes',
    withOutput(async () => {
      const taskId = await createTask({ sample_agent: { duration_ms: 60_000, children: 1 } });
      const dispatched = await dispatch(taskId);
      expect(dispatched.status).toBe(202);
      await waitForSession(dispatched.body.session.id, 'running');
      const tree = await waitForTree(orchestrator!.pid, 3);

      const started = Date.now();
      const cancelled = await call<SessionBody>(api!, 'POST', `/orchestrator/sessions/${dispatched.body.session.id}/cancel`, {
        grace_ms: 10_000,
      });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('cancelled');
      // The sample agent stops on SIGTERM at once: well before the grace.
      expect(Date.now() - started).toBeLessThan(5_000);
      await waitForNoProcesses(tree, 0);
      const task = await call<{ status: string }>(api!, 'GET', `/tasks/${taskId}`);
      expect(task.body.status).toBe('cancelled');
    }),
  );

  it('answers 404 in the contract shape for unknown tasks and sessions', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const [method, path] of [
      ['GET', `/tasks/${missing}`],
      ['POST', `/tasks/${missing}/dispatch`],
      ['GET', `/orchestrator/sessions/${missing}`],
      ['POST', `/orchestrator/sessions/not-a-uuid/kill`],
    ]) {
      const answer = await call(api!, method, path);
      expect(answer.status).toBe(404);
      expect(answer.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    }
  });

  it(
    'brings a session to its final status by reconciliation alone when callbacks cannot reach the API',
    withOutput(async () => {
      const deaf = await startApi({ PUBLIC_BASE_URL: `http://127.0.0.1:${await freePort()}`, RECONCILE_STALE_AFTER_MS: '300' });
      try {
        const created = await call<{ id: string }>(deaf, 'POST', '/tasks', {
          title: 'no callbacks',
          metadata: { sample_agent: { steps: 1, step_ms: 10 } },
        });
        const dispatched = await call<{ session: SessionBody }>(deaf, 'POST', `/tasks/${created.body.id}/dispatch`);
        expect(dispatched.status).toBe(202);
        const session = await waitForSession(dispatched.body.session.id, 'completed');
        // No callback got in: the log holds only the API's own record of who dispatched.
        expect(session.events).toEqual([
          expect.objectContaining({ event_id: 'api-dispatch', type: 'status', status: 'spawning', data: { actor: 'admin' } }),
        ]);
      } finally {
        await deaf.stop();
      }
    }),
  );

  it(
    'reports the orchestrator down, answers 503 on dispatch, and lets the task be dispatched again once it is back',
    withOutput(async () => {
      const taskId = await createTask({ sample_agent: { steps: 1, step_ms: 10 } });
      await orchestrator!.stop();

      const health = await request('GET', `${api!.url}/health/orchestrator`);
      expect(health.status).toBe(503);
      const failed = await dispatch(taskId);
      expect(failed.status).toBe(503);
      expect(failed.body).toEqual({
        error: { code: expect.stringMatching(/^orchestrator_(unreachable|circuit_open)$/), message: expect.any(String) },
      });
      const afterFailure = await call<{ status: string; session: SessionBody }>(api!, 'GET', `/tasks/${taskId}`);
      expect(afterFailure.body.session.status).toBe('failed');
      expect(afterFailure.body.session.error).toMatch(/spawn failed/);

      orchestrator = await startOrchestrator();
      await sleep(300);
      const again = await dispatch(taskId);
      expect(again.status).toBe(202);
      await waitForSession(again.body.session.id, 'completed');
    }),
  );

  it(
    'ends a session failed (lost) when the orchestrator that ran it is killed and forgets it',
    withOutput(async () => {
      const taskId = await createTask({ sample_agent: { duration_ms: 60_000 } });
      const dispatched = await dispatch(taskId);
      expect(dispatched.status).toBe(202);
      await waitForSession(dispatched.body.session.id, 'running');

      orchestrator!.kill('SIGKILL');
      await orchestrator!.exited;
      orchestrator = await startOrchestrator();

      const lost = await waitForSession(dispatched.body.session.id, 'failed', 30_000);
      expect(lost.error).toBe('lost');
      const redispatched = await dispatch(taskId);
      expect(redispatched.status).toBe(202);
      await call(api!, 'POST', `/orchestrator/sessions/${redispatched.body.session.id}/kill`);
    }),
  );

  it('answers /health/orchestrator 503 within its timeout when the orchestrator hangs', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as { port: number }).port;
    const hanging = await startService({
      name: 'api-hanging-orchestrator',
      entry: API_ENTRY,
      // Any answer from the API will do here: its orchestrator never answers.
      healthPath: '/tasks/00000000-0000-4000-8000-000000000000',
      readyStatuses: [401],
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ORCHESTRATOR_URL: `http://127.0.0.1:${port}`,
        ORCHESTRATOR_HEALTH_TIMEOUT_MS: '300',
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
      },
    });
    try {
      const health = await request<{ status: string; error: { orchestrator: { status: string; reason: string } } }>(
        'GET',
        `${hanging.url}/health/orchestrator`,
        { timeoutMs: 5_000 },
      );
      expect(health.status).toBe(503);
      expect(health.ms).toBeLessThan(3_000);
      expect(health.body.status).toBe('error');
      expect(health.body.error.orchestrator).toMatchObject({ status: 'down', reason: 'timeout' });
    } finally {
      await hanging.stop();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
