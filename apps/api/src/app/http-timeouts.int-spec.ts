import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { OPERATOR_TOKEN, TestApi } from '../../../../test/support/api-app';
import { seedServicesOf, seedSession } from '../../../../test/support/seed';
import { StubOrchestrator } from '../../../../test/support/stub-orchestrator';

const REQUEST_TIMEOUT_MS = 500;

/** What the real app does with a client that never finishes its request. */
describe('HTTP timeouts (integration)', () => {
  let api: TestApi;
  let port: number;

  beforeAll(async () => {
    api = await TestApi.start({ HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
    await api.app.listen(0, '127.0.0.1');
    port = (api.app.getHttpServer().address() as { port: number }).port;
  });

  afterAll(async () => {
    await api.close();
  });

  it('closes the connection of a client that stops sending its request halfway, within the timeout', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const started = Date.now();
    socket.write(
      'POST /orchestrator/callbacks/6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"event',
    );
    let received = '';
    socket.on('data', (chunk) => (received += String(chunk)));
    const closed = await Promise.race([
      once(socket, 'close').then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), REQUEST_TIMEOUT_MS + 3_000)),
    ]);
    socket.destroy();

    expect(closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    // Node's request timeout covers the body too: the answer is the contract's 408, then the connection is closed.
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(received).toContain('{"error":{"code":"bad_request","message":"the request did not arrive in time"}}');
  });
});

/** An answer the API takes longer to prepare than a request may take to arrive: a cancel waits for the grace it gave. */
describe('HTTP timeouts and a slow answer (integration)', () => {
  let api: TestApi;
  let url: string;
  let stub: StubOrchestrator;

  beforeAll(async () => {
    stub = await StubOrchestrator.start();
    api = await TestApi.start({ HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), ORCHESTRATOR_URL: stub.url });
    url = await api.listen();
  });

  afterAll(async () => {
    await api?.close();
    await stub?.close();
  });

  it('keeps the connection of a cancel whose orchestrator answers after many request timeouts', async () => {
    const session = await seedSession(seedServicesOf(api.app), { status: 'running' });
    const answerAfterMs = 6 * REQUEST_TIMEOUT_MS;
    stub.respond = async (request) => {
      if (request.path.endsWith('/cancel')) await sleep(answerAfterMs);
      return undefined;
    };
    const started = Date.now();
    const response = await fetch(`${url}/orchestrator/sessions/${session.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ grace_ms: 10 * REQUEST_TIMEOUT_MS }),
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: session.id, status: 'cancelled' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(answerAfterMs - 50);
  });
});
