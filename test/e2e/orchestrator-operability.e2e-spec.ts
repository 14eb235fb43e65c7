import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CallbackReceiver, type CallbackEndpoint } from '../support/callback-receiver';
import { documentedRoutes, ORCHESTRATOR_ROUTES, sortedRoutes } from '../support/contract-routes';
import { eventually } from '../support/eventually';
import { request, type HttpAnswer } from '../support/http';
import { sampleValue } from '../support/metrics-text';
import { startService, withServiceOutput, type ServiceProcess, stopLeavingNoProcesses } from '../support/service-process';

const ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_KEY = 'e2e-operability-key';

type Operation = { security?: Record<string, string[]>[]; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };

function spawnBody(endpoint: CallbackEndpoint, sampleAgent: Record<string, unknown>) {
  return {
    task: { id: `task-${randomUUID()}`, title: 'measured', metadata: { sample_agent: sampleAgent } },
    context: { schema_version: 1 },
    callback_url: endpoint.url,
    callback_token: 'operability-token',
  };
}

beforeAll(() => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`pnpm build\` first`);
});

/**
 * A built orchestrator and a callback receiver for the enclosing describe block,
 * started before its tests and stopped after them.
 */
function builtOrchestrator(name: string, env: Record<string, string | undefined>) {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver | undefined;

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    service = await startService({
      name,
      entry: ENTRY,
      env: { ORCHESTRATOR_API_KEY: API_KEY, CALLBACK_RETRY_MAX_MS: '0', AGENT_COMMAND: undefined, ...env },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
  });

  const url = () => service!.url;
  return {
    url,
    receiver: () => receiver!,
    serviceTest: (title: string, body: () => Promise<void>) =>
      it(
        title,
        withServiceOutput(() => [service], body),
        30_000,
      ),
    post: (path: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
      request('POST', `${url()}${path}`, { token: API_KEY, headers, body }),
  };
}

/**
 * The orchestrator's OpenAPI document and metrics, from the built service: its
 * application is put together in main.ts, so the served document is only seen there.
 */
describe('orchestrator /docs and /metrics (built service)', () => {
  const { url, receiver, serviceTest, post } = builtOrchestrator('orchestrator', { MAX_CONCURRENT_SESSIONS: '8' });

  async function scrape(): Promise<string> {
    const answer = await request('GET', `${url()}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return answer.text;
  }

  serviceTest("serves an OpenAPI document with exactly the contract's operations and statuses", async () => {
    const answer = await request<{ paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } }>(
      'GET',
      `${url()}/docs/json`,
    );
    expect(answer.status).toBe(200);
    const document = answer.body;

    expect(documentedRoutes(document)).toEqual(sortedRoutes(ORCHESTRATOR_ROUTES));
    for (const [path, item] of Object.entries(document.paths)) {
      for (const operation of Object.values(item)) {
        expect(operation.security).toEqual(path.startsWith('/orchestrator/') ? [{ orchestrator_api_key: [] }] : undefined);
        for (const [status, answer] of Object.entries(operation.responses)) {
          if (Number(status) >= 400)
            expect(answer.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/ErrorBody' });
        }
      }
    }
    expect(document.components.schemas.SpawnRequest).toMatchObject({
      required: ['task', 'context', 'callback_url', 'callback_token'],
      example: expect.any(Object),
    });
    expect((await request('GET', `${url()}/docs`)).headers.get('content-type')).toMatch(/text\/html/);
  });

  serviceTest('counts spawns, callback deliveries, sessions by status, running agents and requests', async () => {
    const quick = receiver().endpoint();
    const refusing = receiver().endpoint(() => 400);
    const long = receiver().endpoint();
    const key = randomUUID();
    const quickBody = spawnBody(quick, { steps: 1 });
    expect((await post('/orchestrator/sessions/spawn', quickBody, { 'idempotency-key': key })).status).toBe(201);
    expect((await post('/orchestrator/sessions/spawn', quickBody, { 'idempotency-key': key })).status).toBe(200);
    expect((await post('/orchestrator/sessions/spawn', spawnBody(refusing, { steps: 1 }))).status).toBe(201);
    const longAnswer = await post('/orchestrator/sessions/spawn', spawnBody(long, { duration_ms: 60_000 }));
    expect(longAnswer.status).toBe(201);
    // The counters move once the answer is in, a moment after the receiver has seen the request; the queue runs
    // the three sessions side by side, so the quick ones may end in either order.
    await quick.waitFor((received) => received.some(({ body }) => (body as { status?: string }).status === 'completed'));
    let text = await eventually(async () => {
      const metrics = await scrape();
      expect(sampleValue(metrics, 'orchestrator_callback_deliveries_total', { type: 'status', outcome: 'refused' })).toBe(2);
      expect(sampleValue(metrics, 'orchestrator_sessions', { status: 'completed' })).toBe(2);
      return metrics;
    }, 15_000);
    expect(sampleValue(text, 'orchestrator_spawns_total', { outcome: 'started' })).toBe(3);
    expect(sampleValue(text, 'orchestrator_spawns_total', { outcome: 'replayed' })).toBe(1);
    expect(sampleValue(text, 'orchestrator_agent_processes_running')).toBe(1);
    expect(sampleValue(text, 'orchestrator_sessions', { status: 'running' })).toBe(1);
    expect(sampleValue(text, 'orchestrator_sessions', { status: 'completed' })).toBe(2);
    expect(sampleValue(text, 'orchestrator_callback_deliveries_total', { type: 'status', outcome: 'delivered' })).toBeGreaterThanOrEqual(3);
    expect(sampleValue(text, 'orchestrator_callback_deliveries_total', { type: 'status', outcome: 'refused' })).toBe(2);
    expect(
      sampleValue(text, 'orchestrator_http_request_duration_seconds_count', {
        route: '/orchestrator/sessions/spawn',
        method: 'POST',
        status: '201',
      }),
    ).toBe(3);
    expect(sampleValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    const id = longAnswer.body.session_id as string;
    expect((await post(`/orchestrator/sessions/${id}/kill`, {})).status).toBe(200);
    expect((await request('GET', `${url()}/orchestrator/sessions/${id}/status`)).status).toBe(401);
    text = await scrape();
    expect(sampleValue(text, 'orchestrator_agent_processes_running')).toBe(0);
    expect(sampleValue(text, 'orchestrator_sessions', { status: 'killed' })).toBe(1);
    // Labelled by route pattern, the session id is not a label value; the API-key hook's 401 is counted too.
    expect(
      sampleValue(text, 'orchestrator_http_request_duration_seconds_count', {
        route: '/orchestrator/sessions/:id/kill',
        method: 'POST',
        status: '200',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'orchestrator_http_request_duration_seconds_count', {
        route: '/orchestrator/sessions/:id/status',
        method: 'GET',
        status: '401',
      }),
    ).toBe(1);
  });

  serviceTest('counts refused spawns by their error code', async () => {
    const endpoint = receiver().endpoint();
    const key = randomUUID();
    expect((await post('/orchestrator/sessions/spawn', spawnBody(endpoint, { steps: 1 }), { 'idempotency-key': key })).status).toBe(201);
    expect((await post('/orchestrator/sessions/spawn', spawnBody(endpoint, { steps: 2 }), { 'idempotency-key': key })).status).toBe(422);
    expect(sampleValue(await scrape(), 'orchestrator_spawns_total', { outcome: 'idempotency_key_reused' })).toBe(1);
  });
});

/** A long-running orchestrator must not keep every session it ever ran: ended ones are forgotten after SESSION_RETENTION_MS. */
describe('orchestrator session retention (built service)', () => {
  const RETENTION_MS = 3_000;
  const { url, receiver, serviceTest, post } = builtOrchestrator('orchestrator-retention', { SESSION_RETENTION_MS: String(RETENTION_MS) });

  const status = (id: string) => request('GET', `${url()}/orchestrator/sessions/${id}/status`, { token: API_KEY });

  serviceTest('forgets an ended session and its Idempotency-Key once retained long enough, and keeps the running ones', async () => {
    const key = randomUUID();
    const quick = receiver().endpoint();
    const quickBody = spawnBody(quick, { steps: 1 });
    const spawned = await post('/orchestrator/sessions/spawn', quickBody, { 'idempotency-key': key });
    expect(spawned.status).toBe(201);
    const endedId = spawned.body.session_id as string;
    const long = await post('/orchestrator/sessions/spawn', spawnBody(receiver().endpoint(), { duration_ms: 60_000 }));
    expect(long.status).toBe(201);
    const runningId = long.body.session_id as string;

    await quick.waitFor((received) => received.some(({ body }) => (body as { status?: string }).status === 'completed'));
    const ended = (await status(endedId)).body as { status: string; ended_at: string };
    expect(ended.status).toBe('completed');
    const replay = await post('/orchestrator/sessions/spawn', quickBody, { 'idempotency-key': key });
    expect(replay.status).toBe(200);
    expect(replay.body.session_id).toBe(endedId);

    await eventually(async () => expect((await status(endedId)).status).not.toBe(200), RETENTION_MS + 10_000);
    expect(Date.now() - Date.parse(ended.ended_at)).toBeGreaterThanOrEqual(RETENTION_MS);
    expect((await status(endedId)).status).toBe(404);
    expect((await post(`/orchestrator/sessions/${endedId}/kill`, {})).status).toBe(404);
    const listed = (await request<{ sessions: { session_id: string }[] }>('GET', `${url()}/orchestrator/sessions`, { token: API_KEY }))
      .body;
    expect(listed.sessions.map((session) => session.session_id)).toEqual([runningId]);
    expect((await status(runningId)).body.status).toBe('running');
    const metrics = (await request('GET', `${url()}/metrics`)).text;
    expect(sampleValue(metrics, 'orchestrator_sessions', { status: 'completed' })).toBe(0);

    // The key is free again: a different body no longer answers 422, it starts a new session.
    const again = await post('/orchestrator/sessions/spawn', spawnBody(receiver().endpoint(), { steps: 1 }), { 'idempotency-key': key });
    expect(again.status).toBe(201);
    expect(again.body.session_id).not.toBe(endedId);
  });
});
