import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CALLBACK_QUEUE_MAX_BYTES } from '../../apps/orchestrator/src/callbacks/callback-delivery';
import { CallbackReceiver } from '../support/callback-receiver';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { sampleValue } from '../support/metrics-text';
import { startService, stopLeavingNoProcesses, withServiceOutput, type ServiceProcess } from '../support/service-process';

const ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_KEY = 'e2e-orchestrator-outage-key';
const LOG_LINES = 6000;
const PROGRESS_EVERY = 100;
// About 6 MiB of log lines, a progress line every 100 of them, a result: far more than the queue holds.
const CHATTY_AGENT = [
  "pad=$(printf '%01000d' 0)",
  `i=1; while [ $i -le ${LOG_LINES} ]; do echo "line $i $pad"; if [ $((i % ${PROGRESS_EVERY})) -eq 0 ]; then echo "{\\"type\\":\\"progress\\",\\"message\\":\\"$i\\"}"; fi; i=$((i+1)); done`,
  `echo '{"type":"result","summary":"done"}'`,
].join('; ');

beforeAll(() => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`pnpm build\` first`);
});

describe('orchestrator during an outage of the API (built service)', () => {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver;

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    service = await startService({
      name: 'orchestrator',
      entry: ENTRY,
      // No rate limit to speak of: the queue's bound is what this holds the agent to.
      env: { ORCHESTRATOR_API_KEY: API_KEY, LOG_LINES_PER_SECOND: '100000', CALLBACK_RETRY_MAX_MS: '120000', AGENT_COMMAND: CHATTY_AGENT },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
  });

  const metric = async (name: string, labels: Record<string, string> = {}) =>
    sampleValue((await request('GET', `${service!.url}/metrics`)).text, name, labels) ?? 0;

  it(
    'keeps a chatty session at its queue bound while callbacks answer 503, then delivers the rest, the terminal status last',
    withServiceOutput(
      () => [service],
      async () => {
        let apiDown = true;
        const endpoint = receiver.endpoint(() => (apiDown ? 503 : 202));
        const spawned = await request<{ session_id: string }>('POST', `${service!.url}/orchestrator/sessions/spawn`, {
          token: API_KEY,
          headers: { 'idempotency-key': randomUUID() },
          body: {
            task: { id: randomUUID(), title: 'chatty' },
            context: { schema_version: 1 },
            callback_url: endpoint.url,
            callback_token: 'outage-token',
          },
        });
        expect(spawned.status).toBe(201);
        const sessionId = spawned.body.session_id;

        // The agent prints everything and ends while nothing gets through; the queue must not follow it (sampled every 50 ms).
        let largestQueue = 0;
        await eventually(
          async () => {
            largestQueue = Math.max(largestQueue, await metric('orchestrator_callback_queue_bytes'));
            const status = await request<{ status: string }>('GET', `${service!.url}/orchestrator/sessions/${sessionId}/status`, {
              token: API_KEY,
            });
            expect(status.body).toMatchObject({ status: 'completed' });
          },
          30_000,
          50,
        );
        const queued = await metric('orchestrator_callback_queue_bytes');
        largestQueue = Math.max(largestQueue, queued);
        const droppedByMetric = await metric('orchestrator_agent_log_lines_dropped_total', { reason: 'queue_full' });
        expect(endpoint.accepted()).toEqual([]);

        apiDown = false;
        const isTerminal = (event: CallbackEvent) => event.type === 'status' && event.status === 'completed';
        await endpoint.waitFor(() => endpoint.accepted<CallbackEvent>().some(isTerminal), 45_000);

        const events = endpoint.accepted<CallbackEvent>();
        // Everything delivered now waited in memory during the outage. Past the bound: the event that crossed it,
        // its dropped-lines count, and the session's end (count, progress, result, status), about 1 KiB each.
        const heldBytes = events.reduce((bytes, event) => bytes + Buffer.byteLength(JSON.stringify(event)), 0);
        expect(heldBytes).toBeLessThanOrEqual(CALLBACK_QUEUE_MAX_BYTES + 16 * 1024);
        expect(largestQueue).toBeLessThanOrEqual(CALLBACK_QUEUE_MAX_BYTES + 16 * 1024);
        // Filled to the bound, give or take one line: events still being written to the store count against it by their estimated size.
        expect(queued).toBeGreaterThanOrEqual(CALLBACK_QUEUE_MAX_BYTES - 16 * 1024);
        expect(droppedByMetric).toBeGreaterThan(LOG_LINES / 2);
        expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
        expect(events.at(-1)).toMatchObject({ type: 'status', status: 'completed', data: { exit_code: 0 } });
        expect(events.at(-2)).toMatchObject({ type: 'result', data: { summary: 'done' } });
        expect(events.filter((event) => event.type === 'progress').at(-1)?.data).toEqual({ message: String(LOG_LINES) });
        const lines = events.flatMap((event) => (event.type === 'log' ? [event.data.line] : []));
        const notices = lines.filter((line) => line.startsWith('orchestrator: '));
        const droppedByNotice = notices.reduce((sum, line) => sum + Number(/^orchestrator: (\d+) log line/.exec(line)?.[1]), 0);
        // Every line the agent printed was either delivered or counted as dropped, and the count said so.
        expect(lines.length - notices.length + droppedByNotice).toBe(LOG_LINES);
        expect(droppedByNotice).toBe(droppedByMetric);
        expect(
          service!
            .output()
            .split('\n')
            .filter((line) => line.includes(sessionId) && line.includes('callbacks are not being delivered')),
        ).toHaveLength(1);
        expect(await metric('orchestrator_callback_queue_bytes')).toBe(0);
      },
    ),
    90_000,
  );
});
