import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase, withClient } from '../support/database';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { liveDescendants, waitForNoProcesses } from '../support/process-table';
import { freePort, startService, stopLeavingNoProcesses, withServiceOutput, type ServiceProcess } from '../support/service-process';

const ORCHESTRATOR_ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const ORCHESTRATOR_KEY = 'e2e-unconfirmed-spawn-orchestrator-key';

/**
 * An API that sent a spawn and never learnt its answer (it died meanwhile, and
 * the agent's callbacks cannot reach it) has a session left `spawning`. Its
 * reconciliation must find the agent the orchestrator did start, by the
 * spawn's Idempotency-Key, and kill it: otherwise the task, failed, can be
 * dispatched again while the first agent runs on.
 */
describe('an unconfirmed spawn whose agent did start (built API and orchestrator)', () => {
  let databaseUrl: string;
  let orchestrator: ServiceProcess | undefined;
  let api: ServiceProcess | undefined;

  beforeAll(async () => {
    // Its own database: the API's reconciliation looks at every quiet session in it.
    databaseUrl = await createTestDatabase('unconfirmed', { migrate: true });
    orchestrator = await startService({
      name: 'orchestrator',
      entry: ORCHESTRATOR_ENTRY,
      env: { ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY, AGENT_COMMAND: 'sleep 60', CALLBACK_RETRY_MAX_MS: '1000', AGENT_USER: undefined },
    });
  }, 30_000);

  afterAll(async () => {
    await api?.stop();
    await stopLeavingNoProcesses(orchestrator);
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  it(
    'is killed by the reconciliation, which records the orchestrator session: killed, spawn_unconfirmed',
    withServiceOutput(
      () => [api, orchestrator],
      async () => {
        const sessionId = randomUUID();
        const taskId = randomUUID();
        // As a dispatch leaves them before the spawn call, an hour ago.
        await withClient(databaseUrl, async (client) => {
          await client.query(`INSERT INTO tasks (id, title, status, updated_at) VALUES ($1, 'unconfirmed', 'spawning', now())`, [taskId]);
          await client.query(
            `INSERT INTO orchestrator_sessions (id, task_id, active_task_id, status, callback_token_hash, callback_token_expires_at, created_at, updated_at)
           VALUES ($1, $2, $2, 'spawning', 'hash', now() + interval '1 day', now() - interval '1 hour', now() - interval '1 hour')`,
            [sessionId, taskId],
          );
        });
        // The spawn that API sent, with its session id as the Idempotency-Key; its callbacks go nowhere.
        const spawned = await request<{ session_id: string }>('POST', `${orchestrator!.url}/orchestrator/sessions/spawn`, {
          token: ORCHESTRATOR_KEY,
          headers: { 'idempotency-key': sessionId },
          body: {
            task: { id: taskId, title: 'unconfirmed' },
            context: { schema_version: 1 },
            callback_url: `http://127.0.0.1:${await freePort()}/orchestrator/callbacks/${sessionId}`,
            callback_token: 'token',
          },
        });
        expect(spawned.status).toBe(201);
        const orchestratorSessionId = spawned.body.session_id;
        // Queued first; the node takes it at once, having room.
        const agents = await eventually(() => {
          const pids = liveDescendants(orchestrator!.pid).map((info) => info.pid);
          expect(pids.length).toBeGreaterThan(0);
          return pids;
        }, 10_000);
        // What the reconciliation asks: the list, by Idempotency-Key, in its usual shape.
        const list = (query: string) => request('GET', `${orchestrator!.url}/orchestrator/sessions?${query}`, { token: ORCHESTRATOR_KEY });
        expect((await list(`idempotency_key=${sessionId}`)).body).toEqual({
          sessions: [expect.objectContaining({ session_id: orchestratorSessionId, status: 'running' })],
          next_cursor: null,
        });
        expect((await list(`idempotency_key=${randomUUID()}`)).body).toEqual({ sessions: [], next_cursor: null });
        expect((await list(`idempotency_key=${sessionId}&cursor=abc`)).status).toBe(400);

        api = await startService({
          name: 'api',
          entry: API_ENTRY,
          healthPath: '/health/orchestrator',
          env: {
            DATABASE_URL: databaseUrl,
            ORCHESTRATOR_URL: orchestrator!.url,
            ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
            RECONCILE_INTERVAL_MS: '200',
            RECONCILE_STALE_AFTER_MS: '300',
          },
        });

        const row = await eventually(async () => {
          const found = await sessionRow(databaseUrl, sessionId);
          expect(found).toBeDefined();
          expect(found!.status).not.toBe('spawning');
          return found;
        }, 15_000);
        expect(row).toEqual({
          status: 'killed',
          error: 'spawn_unconfirmed',
          orchestrator_session_id: orchestratorSessionId,
          active_task_id: null,
        });
        await waitForNoProcesses(agents, 0);
        const status = await request('GET', `${orchestrator!.url}/orchestrator/sessions/${orchestratorSessionId}/status`, {
          token: ORCHESTRATOR_KEY,
        });
        expect(status.body).toMatchObject({ status: 'killed' });
      },
    ),
    30_000,
  );
});

interface SessionRow {
  status: string;
  error: string | null;
  orchestrator_session_id: string | null;
  active_task_id: string | null;
}

function sessionRow(databaseUrl: string, id: string): Promise<SessionRow | undefined> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<SessionRow>(
      'SELECT status, error, orchestrator_session_id, active_task_id FROM orchestrator_sessions WHERE id = $1',
      [id],
    );
    return rows[0];
  });
}
