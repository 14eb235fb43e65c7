import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseTraceparent } from '@mosaic/observability';
import { type CallbackEvent, UUID_PATTERN } from '@mosaic/orchestrator-contract';
import { CallbackReceiver } from '../support/callback-receiver';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { liveDescendants, waitForNoProcesses } from '../support/process-table';
import { freePort, startService, withServiceOutput, type ServiceProcess } from '../support/service-process';

const ORCHESTRATOR_ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const ORCHESTRATOR_KEY = 'e2e-observability-orchestrator-key';
const OPERATOR_TOKEN = 'e2e-observability-operator-token';

jest.setTimeout(60_000);

type LogLine = Record<string, unknown> & {
  msg?: string;
  request_id?: string;
  trace_id?: string;
  req?: { url?: string; headers?: Record<string, unknown> };
};

/** Every line a service printed, each of which must be a JSON object. */
function logLines(service: ServiceProcess): LogLine[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });
}

function newTraceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/**
 * Issue items 3 and 5, end to end: the built API and orchestrator log JSON
 * lines, one per request, and one request id and one trace id follow a
 * session from its dispatch through the orchestrator and back in every
 * callback, with no secret in any line.
 */
describe('request ids, trace context and JSON logs (built services)', () => {
  let orchestratorPort: number;
  let orchestrator: ServiceProcess | undefined;
  let api: ServiceProcess | undefined;
  let receiver: CallbackReceiver;
  const agentPids = new Set<number>();

  const withOutput = (body: () => Promise<void>) => withServiceOutput(() => [api, orchestrator], body, 10_000);
  const call = (base: ServiceProcess, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    request(method, `${base.url}${path}`, { headers, body });

  const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` };

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    orchestratorPort = await freePort();
    orchestrator = await startService({
      name: 'orchestrator',
      entry: ORCHESTRATOR_ENTRY,
      port: orchestratorPort,
      env: { ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY, SHUTDOWN_GRACE_MS: '1000', LOG_LEVEL: 'info', AGENT_COMMAND: undefined },
    });
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      healthPath: '/health/orchestrator',
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ORCHESTRATOR_URL: `http://127.0.0.1:${orchestratorPort}`,
        ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
        RECONCILE_INTERVAL_MS: '60000',
        LOG_LEVEL: 'info',
      },
    });
  });

  afterAll(async () => {
    await api?.stop();
    await orchestrator?.stop();
    await receiver?.close();
    await waitForNoProcesses([...agentPids], 5_000);
  });

  it(
    'carries the dispatch request id and trace from the API through the orchestrator into every callback',
    withOutput(async () => {
      const requestId = `e2e-${randomUUID()}`;
      const parent = newTraceparent();
      const task = await call(api!, 'POST', '/tasks', operator, {
        title: 'traced task',
        metadata: { sample_agent: { steps: 2, step_ms: 20 } },
      });
      expect(task.status).toBe(201);

      const dispatched = await call(api!, 'POST', `/tasks/${task.body.id}/dispatch`, {
        ...operator,
        'x-request-id': requestId,
        traceparent: parent.header,
      });
      expect(dispatched.status).toBe(202);
      expect(dispatched.headers.get('x-request-id')).toBe(requestId);
      for (const info of liveDescendants(orchestrator!.pid)) agentPids.add(info.pid);
      const sessionId = dispatched.body.session.id as string;
      const orchestratorSessionId = dispatched.body.session.orchestrator_session_id as string;

      const stored = await eventually(async () => {
        const session = (await call(api!, 'GET', `/orchestrator/sessions/${sessionId}`, operator)).body as {
          status: string;
          events: { event_id: string }[];
        };
        expect(session.status).toBe('completed');
        return session;
      }, 20_000);
      // The API's own audit events (who dispatched) came by no callback.
      const events = stored.events.filter((event) => !event.event_id.startsWith('api-'));
      const isCallbackLine = (line: LogLine) => line.req?.url === `/orchestrator/callbacks/${sessionId}`;
      // The last callback's request line is written once its answer has gone out.
      const apiLines = await eventually(() => {
        const lines = logLines(api!);
        expect(lines.filter(isCallbackLine)).toHaveLength(events.length);
        return lines;
      }, 5_000);
      const orchestratorLines = logLines(orchestrator!);

      // One line per request, carrying the request id and the trace id.
      const dispatchLines = apiLines.filter((line) => line.req?.url === `/tasks/${task.body.id}/dispatch`);
      expect(dispatchLines).toEqual([
        expect.objectContaining({ msg: 'request completed', request_id: requestId, trace_id: parent.traceId }),
      ]);

      const spawnLines = orchestratorLines.filter(
        (line) => line.req?.url === '/orchestrator/sessions/spawn' && line.request_id === requestId,
      );
      expect(spawnLines).toEqual([expect.objectContaining({ msg: 'request completed', trace_id: parent.traceId })]);

      // One line per callback (running, two progress events, completed, at least).
      const callbackLines = apiLines.filter(isCallbackLine);
      expect(events.length).toBeGreaterThanOrEqual(4);
      expect(callbackLines).toHaveLength(events.length);
      for (const line of callbackLines) {
        expect(line).toMatchObject({ msg: 'request completed', request_id: requestId, trace_id: parent.traceId, res: { statusCode: 202 } });
      }

      // One line per state change, on each side.
      const apiChanges = apiLines.filter((line) => line.msg === 'session status changed' && line.session_id === sessionId);
      expect(apiChanges.map((line) => line.to)).toEqual(['spawning', 'pending', 'running', 'completed']);
      for (const line of apiChanges) expect(line).toMatchObject({ request_id: requestId });
      const orchestratorChanges = orchestratorLines.filter(
        (line) => line.msg === 'session status changed' && line.session_id === orchestratorSessionId,
      );
      expect(orchestratorChanges).toEqual([
        expect.objectContaining({ from: null, to: 'pending', request_id: requestId }),
        expect.objectContaining({ from: 'pending', to: 'running', request_id: requestId, node: expect.any(String) }),
        expect.objectContaining({ from: 'running', to: 'completed', request_id: requestId }),
      ]);

      // No secret in any line: bearer tokens (the callback token among them) are redacted wherever headers are logged.
      for (const line of [...apiLines, ...orchestratorLines]) {
        const text = JSON.stringify(line);
        expect(text).not.toContain(ORCHESTRATOR_KEY);
        expect(text).not.toContain(OPERATOR_TOKEN);
        expect(line.req?.headers?.authorization ?? '[REDACTED]').toBe('[REDACTED]');
        expect(text).not.toMatch(/Bearer /);
      }
    }),
  );

  it(
    'sends the spawn request id and trace with every callback of the session, each callback a span of its own',
    withOutput(async () => {
      const endpoint = receiver.endpoint();
      const parent = newTraceparent();
      const requestId = `spawn-${randomUUID()}`;
      const spawned = await call(
        orchestrator!,
        'POST',
        '/orchestrator/sessions/spawn',
        {
          authorization: `Bearer ${ORCHESTRATOR_KEY}`,
          'idempotency-key': randomUUID(),
          'x-request-id': requestId,
          traceparent: parent.header,
        },
        {
          task: { id: 'traced', title: 'traced', metadata: { sample_agent: { steps: 2, step_ms: 10 } } },
          context: { schema_version: 1 },
          callback_url: endpoint.url,
          callback_token: 'callback-token-observability',
        },
      );
      expect(spawned.status).toBe(201);
      expect(spawned.headers.get('x-request-id')).toBe(requestId);
      await endpoint.waitFor((received) => received.some((callback) => (callback.body as CallbackEvent).status === 'completed'));

      const traces = endpoint.received.map((callback) => parseTraceparent(callback.headers.traceparent));
      expect(endpoint.received.map((callback) => callback.headers['x-request-id'])).toEqual(endpoint.received.map(() => requestId));
      expect(traces.map((trace) => trace?.traceId)).toEqual(endpoint.received.map(() => parent.traceId));
      const spanIds = traces.map((trace) => trace?.spanId);
      expect(new Set([...spanIds, parent.spanId]).size).toBe(spanIds.length + 1);
    }),
  );

  it(
    'starts a request id and a trace of its own for a caller that sent none, or a malformed one',
    withOutput(async () => {
      const endpoint = receiver.endpoint();
      const spawned = await call(
        orchestrator!,
        'POST',
        '/orchestrator/sessions/spawn',
        { authorization: `Bearer ${ORCHESTRATOR_KEY}`, 'x-request-id': 'not a "valid" id', traceparent: '00-nonsense' },
        {
          task: { id: 'untraced', title: 'untraced', metadata: { sample_agent: { steps: 0 } } },
          context: { schema_version: 1 },
          callback_url: endpoint.url,
          callback_token: 'callback-token-untraced',
        },
      );
      expect(spawned.status).toBe(201);
      const requestId = spawned.headers.get('x-request-id');
      expect(requestId).toMatch(UUID_PATTERN);
      await endpoint.waitFor((received) => received.some((callback) => (callback.body as CallbackEvent).status === 'completed'));

      expect(endpoint.received.every((callback) => callback.headers['x-request-id'] === requestId)).toBe(true);
      const traceIds = new Set(endpoint.received.map((callback) => parseTraceparent(callback.headers.traceparent)?.traceId));
      expect(traceIds.size).toBe(1);
      expect([...traceIds][0]).toMatch(/^[0-9a-f]{32}$/);

      const health = await request('GET', `${api!.url}/health/orchestrator`);
      expect(health.headers.get('x-request-id')).toMatch(UUID_PATTERN);
    }),
  );
});
