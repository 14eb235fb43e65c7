import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { startService, withServiceOutput, type ServiceProcess } from '../support/service-process';
import { StubOrchestrator } from '../support/stub-orchestrator';

const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const OPERATOR_TOKEN = 'e2e-shutdown-operator-token';
const SPAWN_DELAY_MS = 1_500;
const GRACE_MS = 5_000;

jest.setTimeout(30_000);

/** Whether a new TCP connection to `port` is accepted. */
async function accepts(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  try {
    await Promise.race([once(socket, 'connect'), once(socket, 'error').then(([error]) => Promise.reject(error as Error))]);
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/**
 * Issue item 6: SIGTERM lets the API finish what it is doing. A dispatch whose
 * spawn call is still waiting on the orchestrator completes (its outcome is
 * written through the database pool, which must still be open), new
 * connections are refused meanwhile, and the process exits 0 in time.
 */
describe('API shutdown on SIGTERM (built service)', () => {
  let stub: StubOrchestrator;
  let api: ServiceProcess | undefined;

  beforeAll(async () => {
    stub = await StubOrchestrator.start();
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ORCHESTRATOR_URL: stub.url,
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
        ORCHESTRATOR_SPAWN_TIMEOUT_MS: '10000',
        SHUTDOWN_GRACE_MS: String(GRACE_MS),
        RECONCILE_INTERVAL_MS: '200',
      },
    });
  });

  afterAll(async () => {
    await api?.stop();
    await stub?.close();
  });

  it(
    'finishes the in-flight dispatch, refuses new connections, and exits 0 within SHUTDOWN_GRACE_MS',
    withServiceOutput(
      () => [api],
      async () => {
        const created = await request<{ id: string }>('POST', `${api!.url}/tasks`, {
          token: OPERATOR_TOKEN,
          body: { title: 'shutdown task' },
        });
        expect(created.status).toBe(201);
        const task = created.body;

        stub.respond = async (seen) => {
          if (seen.path !== '/orchestrator/sessions/spawn') return undefined;
          await sleep(SPAWN_DELAY_MS);
          return { status: 201, body: { session_id: randomUUID(), status: 'running', created_at: new Date().toISOString() } };
        };
        const dispatch = request<{ session: { status: string } }>('POST', `${api!.url}/tasks/${task.id}/dispatch`, {
          token: OPERATOR_TOKEN,
        });
        await eventually(() => expect(stub.spawns()).not.toEqual([]), 20_000);

        const signalledAt = Date.now();
        api!.kill('SIGTERM');
        await sleep(300);
        expect(await accepts(api!.port)).toBe(false);

        const answer = await dispatch;
        expect(answer.status).toBe(202);
        expect(answer.body.session.status).toBe('running');

        const exit = await api!.exited;
        expect(exit).toEqual({ code: 0, signal: null });
        expect(Date.now() - signalledAt).toBeLessThan(GRACE_MS);
      },
    ),
  );
});
