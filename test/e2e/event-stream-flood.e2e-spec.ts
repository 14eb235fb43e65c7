import type http from 'node:http';
import { join } from 'node:path';
import type { CreatedOperatorKey, Dispatch, SessionEvent, SpawnRequest, Task } from '@mosaic/orchestrator-contract';
import { signatureHeaders } from '../support/callback-signature';
import { testDatabaseUrl } from '../support/database';
import { request } from '../support/http';
import { sampleValue } from '../support/metrics-text';
import { startService, withServiceOutput, type ServiceProcess } from '../support/service-process';
import { floodListStreams, heapLimitMbOf } from '../support/stream-flood';
import { StubOrchestrator } from '../support/stub-orchestrator';

const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const OPERATOR_TOKEN = 'e2e-stream-flood-operator-token';
const ATTEMPTS = 20_000;
/** Of them, the first key's, from one address: it meets its own cap (100 by default). */
const ONE_KEY_ATTEMPTS = 2_000;
/** Read-scope keys, each from a loopback address of its own: together they meet the API's total cap (1000 by default). */
const CLIENTS = 12;
const IN_FLIGHT = 200;
/** The API's heap bound, as its package.json runs it. */
const HEAP_LIMIT_MB = heapLimitMbOf(API_ENTRY);

jest.setTimeout(120_000);

/**
 * Issue 38, finding 1: idle event streams of one read-scope key took the API
 * down (out of heap near 16,000) and callbacks with it. Now 20,000 attempts from
 * several keys and addresses leave the built API up, within its heap bound,
 * holding no more streams than its cap, and still storing callbacks.
 */
describe('a flood of event-stream connections (built API)', () => {
  let stub: StubOrchestrator;
  let api: ServiceProcess | undefined;
  const held: http.IncomingMessage[] = [];

  beforeAll(async () => {
    stub = await StubOrchestrator.start();
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      env: { DATABASE_URL: testDatabaseUrl(), ORCHESTRATOR_URL: stub.url, MOSAIC_API_TOKEN: OPERATOR_TOKEN, LOG_LEVEL: 'warn' },
    });
  });

  afterAll(async () => {
    for (const response of held) response.destroy();
    await api?.stop();
    await stub?.close();
  });

  it(
    'stays up under its heap bound, refuses past its caps, and still stores a callback',
    withServiceOutput(
      () => [api],
      async () => {
        expect(HEAP_LIMIT_MB).toBeGreaterThan(0);
        const keys: string[] = [];
        for (let client = 0; client < CLIENTS; client++) {
          const created = await request<CreatedOperatorKey>('POST', `${api!.url}/operator-keys`, {
            token: OPERATOR_TOKEN,
            body: { name: `flood reader ${client} ${Date.now()}`, scopes: ['read'] },
          });
          expect(created.status).toBe(201);
          keys.push(created.body.key);
        }

        const clientsOf = (indexes: number[]) => indexes.map((client) => ({ key: keys[client], address: `127.0.0.${client + 1}` }));
        const flood = (attempts: number, indexes: number[]) =>
          floodListStreams(api!.port, { attempts, clients: clientsOf(indexes), inFlight: IN_FLIGHT, held });

        // One key alone holds its cap's worth of streams; the rest of its attempts are answered 429.
        expect(await flood(ONE_KEY_ATTEMPTS, [0])).toEqual({ 200: 100, 429: ONE_KEY_ATTEMPTS - 100 });
        // The others together fill the API's total; every further attempt is refused (503, or 429 for a key at its cap).
        const others = await flood(
          ATTEMPTS - ONE_KEY_ATTEMPTS,
          keys.map((_key, client) => client).filter((client) => client > 0),
        );
        expect(others[200]).toBe(900);
        expect((others[429] ?? 0) + (others[503] ?? 0)).toBe(ATTEMPTS - ONE_KEY_ATTEMPTS - 900);

        const health = await request('GET', `${api!.url}/health`);
        expect(health.status).toBe(200);
        const metrics = (await request<string>('GET', `${api!.url}/metrics`)).text;
        expect(sampleValue(metrics, 'mosaic_event_streams', { kind: 'sessions' })).toBe(1_000);
        const refused = ['per_key', 'per_address', 'total'].map(
          (reason) => sampleValue(metrics, 'mosaic_event_streams_refused_total', { reason }) ?? 0,
        );
        expect(refused.reduce((sum, count) => sum + count, 0)).toBe(ATTEMPTS - 1_000);
        expect(sampleValue(metrics, 'nodejs_heap_size_used_bytes')).toBeLessThan(HEAP_LIMIT_MB * 1024 * 1024);

        // With every stream still held, a dispatch and its agent's signed callback are stored.
        const task = await request<Task>('POST', `${api!.url}/tasks`, { token: OPERATOR_TOKEN, body: { title: 'after the flood' } });
        const dispatched = await request<Dispatch>('POST', `${api!.url}/tasks/${task.body.id}/dispatch`, {
          token: OPERATOR_TOKEN,
          body: {},
        });
        expect(dispatched.status).toBe(202);
        const spawn = stub.spawns().at(-1)!.body as SpawnRequest;
        const event = {
          event_id: 'flood-progress-1',
          session_id: dispatched.body.session.orchestrator_session_id,
          sequence: 1,
          type: 'progress',
          timestamp: new Date().toISOString(),
          data: { message: 'still here' },
        };
        const body = JSON.stringify(event);
        const callback = await request('POST', spawn.callback_url, {
          token: spawn.callback_token,
          headers: signatureHeaders(spawn.callback_signing_secret!, event.event_id, body),
          body,
        });
        expect(callback.status).toBe(202);
        const stored = await request<{ events: SessionEvent[] }>('GET', `${api!.url}/orchestrator/sessions/${dispatched.body.session.id}`, {
          token: OPERATOR_TOKEN,
        });
        expect(stored.body.events.map((stored) => stored.event_id)).toContain('flood-progress-1');
      },
    ),
  );
});
