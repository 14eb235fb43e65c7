import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { requestTracing } from '@mosaic/observability';
import { randomUUID } from 'node:crypto';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import type { CallbackTarget, SessionStore } from '../store/session-store';
import { CALLBACK_QUEUE_MAX_BYTES, CallbackDelivery } from './callback-delivery';

const target: CallbackTarget = { url: 'http://127.0.0.1:1/callbacks/1', token: 'token', origin: requestTracing.currentOrigin() };

describe('CallbackDelivery', () => {
  let metrics: OrchestratorMetrics;
  let delivery: CallbackDelivery;
  let fetchSpy: jest.SpyInstance;
  let acknowledged: string[];
  const sessionId = randomUUID();
  let sequence = 0;

  const logEvent = (line: string): CallbackEvent => ({
    event_id: randomUUID(),
    session_id: sessionId,
    sequence: ++sequence,
    timestamp: new Date().toISOString(),
    type: 'log',
    data: { stream: 'stdout', line },
  });
  const queuedBytes = async () => (await metrics.registry.getSingleMetric('orchestrator_callback_queue_bytes')!.get()).values[0]?.value;

  beforeEach(() => {
    metrics = new OrchestratorMetrics();
    acknowledged = [];
    const store = { acknowledgeEvent: async (_session: string, eventId: string) => void acknowledged.push(eventId) } as Pick<
      SessionStore,
      'acknowledgeEvent'
    >;
    delivery = new CallbackDelivery(
      OrchestratorConfig.fromEnvironment({ CALLBACK_RETRY_MAX_MS: '60000', CALLBACK_TIMEOUT_MS: '10000' }),
      metrics,
      store as SessionStore,
    );
  });

  afterEach(() => fetchSpy.mockRestore());

  it("counts a session's waiting callbacks against its bound, in bytes, takes status events past it, and frees the room as they are delivered", async () => {
    let apiUp!: () => void;
    const up = new Promise<void>((resolve) => (apiUp = resolve));
    const posted: string[] = [];
    fetchSpy = jest.spyOn(global, 'fetch').mockImplementation(async (_url, init) => {
      await up;
      posted.push(init?.body as string);
      return new Response(null, { status: 202 });
    });

    const sent: CallbackEvent[] = [];
    let bytes = 0;
    while (delivery.hasRoom(sessionId)) {
      const event = logEvent('x'.repeat(16 * 1024));
      bytes += Buffer.byteLength(JSON.stringify(event));
      delivery.enqueue(target, event);
      sent.push(event);
    }
    expect(bytes).toBeGreaterThanOrEqual(CALLBACK_QUEUE_MAX_BYTES);
    expect(bytes - Buffer.byteLength(JSON.stringify(sent.at(-1)))).toBeLessThan(CALLBACK_QUEUE_MAX_BYTES);
    const terminal: CallbackEvent = { ...logEvent(''), type: 'status', status: 'completed', data: { exit_code: 0 } };
    delivery.enqueue(target, terminal, true);
    sent.push(terminal);
    expect(await queuedBytes()).toBe(bytes + Buffer.byteLength(JSON.stringify(terminal)));
    expect(delivery.hasRoom(randomUUID())).toBe(true);

    apiUp();
    await delivery.drainAndStop(10_000);

    expect(posted).toEqual(sent.map((event) => JSON.stringify(event)));
    expect(acknowledged).toEqual(sent.map((event) => event.event_id));
    expect(await queuedBytes()).toBe(0);
    expect(delivery.hasRoom(sessionId)).toBe(true);
  });

  it('leaves the event a shutdown cuts short unacknowledged, with those behind it, for the next life to send again', async () => {
    let attempts = 0;
    // A receiver that takes its time: the shutdown comes while the first event is on its way.
    fetchSpy = jest.spyOn(global, 'fetch').mockImplementation(
      (_url, init) =>
        new Promise((_resolve, reject) => {
          attempts += 1;
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    );
    const events = [0, 1].map((index) => logEvent(`line ${index}`));
    for (const event of events) delivery.enqueue(target, event);
    while (attempts === 0) await new Promise((resolve) => setImmediate(resolve));

    await delivery.drainAndStop(10);

    expect(attempts).toBe(1);
    expect(acknowledged).toEqual([]);
    expect(await delivery.whenDealtWith(sessionId)).toBe(false);
  });

  it('frees the room of the events it discards when the receiver answers 401', async () => {
    fetchSpy = jest.spyOn(global, 'fetch').mockResolvedValue(new Response(null, { status: 401 }));

    const events = [0, 1, 2].map((index) => logEvent(`line ${index}`));
    for (const event of events) delivery.enqueue(target, event);
    await delivery.drainAndStop(10_000);

    expect(fetchSpy).toHaveBeenCalledTimes(1);
    // Dealt with, though not delivered: no node sends them again with a token the API refuses.
    expect(acknowledged.sort()).toEqual(events.map((event) => event.event_id).sort());
    expect(await queuedBytes()).toBe(0);
  });
});
