import { once } from 'node:events';
import { connect } from 'node:net';
import { TestApi } from '../../../../test/support/api-app';

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
