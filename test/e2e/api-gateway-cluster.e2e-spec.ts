import { join } from 'node:path';
import { testDatabaseUrl } from '../support/database';
import { request } from '../support/http';
import { freePort, startService, withServiceOutput, type ServiceProcess } from '../support/service-process';
import { StubOrchestrator } from '../support/stub-orchestrator';

const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const OPERATOR_TOKEN = 'e2e-cluster-operator-token';

jest.setTimeout(30_000);

interface SessionBody {
  id: string;
  status: string;
  orchestrator_session_id: string | null;
  queue_position: number | null;
}

/**
 * Contract v2 on the API's side, over real HTTP against the built API: an
 * ORCHESTRATOR_URL of two nodes of which one is down, a graceful cancel, and a
 * full queue passed on to the operator.
 */
describe('API ⇄ orchestrator cluster (built API, stub nodes)', () => {
  let stub: StubOrchestrator;
  let api: ServiceProcess | undefined;

  const call = <T = unknown>(method: string, path: string, body?: unknown) =>
    request<T>(method, `${api!.url}${path}`, { body, token: OPERATOR_TOKEN });

  async function dispatchNewTask() {
    const task = await call<{ id: string }>('POST', '/tasks', { title: 'cluster e2e', priority: 'high' });
    return call<{ session: SessionBody }>('POST', `/tasks/${task.body.id}/dispatch`);
  }

  beforeAll(async () => {
    stub = await StubOrchestrator.start();
    const downNode = `http://127.0.0.1:${await freePort()}`;
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      healthPath: '/health/orchestrator',
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ORCHESTRATOR_URL: `${downNode},${stub.url}`,
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
        ORCHESTRATOR_RETRY_ATTEMPTS: '0',
        RECONCILE_INTERVAL_MS: String(60 * 60 * 1000),
      },
    });
  });

  afterEach(() => {
    stub.respond = () => undefined;
  });

  afterAll(async () => {
    await api?.stop();
    await stub?.close();
  });

  it(
    'dispatches through whichever node is up, every time, and cancels with the grace asked for',
    withServiceOutput(
      () => [api],
      async () => {
        for (let dispatch = 0; dispatch < 3; dispatch += 1) {
          const dispatched = await dispatchNewTask();
          expect(dispatched.status).toBe(202);
          expect(dispatched.body.session.status).toBe('pending');
        }
        const spawns = stub.spawns();
        expect(spawns).toHaveLength(3);
        expect(spawns.map((spawn) => (spawn.body as { priority: string }).priority)).toEqual(['high', 'high', 'high']);

        const dispatched = await dispatchNewTask();
        const id = dispatched.body.session.id;
        const cancelled = await call<SessionBody>('POST', `/orchestrator/sessions/${id}/cancel`, { grace_ms: 1000 });
        expect(cancelled).toMatchObject({ status: 200, body: { id, status: 'cancelled', queue_position: null } });
        const again = await call<SessionBody>('POST', `/orchestrator/sessions/${id}/cancel`);
        expect(again).toMatchObject({ status: 200, body: { status: 'cancelled' } });
        const sent = stub.requests.filter((seen) => seen.path.endsWith('/cancel'));
        expect(sent.map((seen) => seen.body)).toEqual([{ grace_ms: 1000 }]);

        const refused = await call<{ error: { code: string; message: string } }>('POST', `/orchestrator/sessions/${id}/cancel`, {
          grace_ms: 600_001,
        });
        expect(refused.status).toBe(400);
        expect(refused.body.error.message).toMatch(/^grace_ms: /);
      },
    ),
  );

  it(
    "answers a full queue with 503 queue_full and the orchestrator's Retry-After",
    withServiceOutput(
      () => [api],
      async () => {
        stub.respond = (seen) =>
          seen.path.endsWith('/spawn')
            ? { status: 503, body: { error: { code: 'queue_full', message: 'queue full' } }, headers: { 'retry-after': '17' } }
            : undefined;

        const refused = await dispatchNewTask();

        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('17');
        expect(refused.body).toMatchObject({ error: { code: 'queue_full' } });
      },
    ),
  );

  it(
    'reports the orchestrator up while one node answers',
    withServiceOutput(
      () => [api],
      async () => {
        const health = await request('GET', `${api!.url}/health/orchestrator`);
        expect(health.status).toBe(200);
        expect(health.body).toMatchObject({ details: { orchestrator: { status: 'up', active_sessions: 0 } } });
      },
    ),
  );
});
