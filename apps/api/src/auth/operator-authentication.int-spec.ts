import { connect } from 'node:net';
import { once } from 'node:events';
import { OPERATOR_TOKEN, TestApi } from '../../../../test/support/api-app';

/** Authentication on the real app, over a real socket: what the server answers before a body has arrived. */
describe('operator authentication (integration)', () => {
  let api: TestApi;
  let port: number;

  beforeAll(async () => {
    api = await TestApi.start();
    await api.app.listen(0, '127.0.0.1');
    port = (api.app.getHttpServer().address() as { port: number }).port;
  });

  afterAll(async () => {
    await api.close();
  });

  /** Sends the headers of a 200 KB body and its first kilobyte only; resolves with the first answer line, if any comes within 2 s. */
  async function answerBeforeTheBody(token: string): Promise<string | undefined> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      `POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n` +
        `{"title":"${'x'.repeat(1000)}`,
    );
    const answer = await Promise.race([
      once(socket, 'data').then(([chunk]) => String(chunk).split('\r\n')[0]),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2000)),
    ]);
    socket.destroy();
    return answer;
  }

  it('refuses a request without a valid token before reading its body', async () => {
    expect(await answerBeforeTheBody('wrong')).toBe('HTTP/1.1 401 Unauthorized');
  });

  it('waits for the body of a request with a valid token', async () => {
    expect(await answerBeforeTheBody(OPERATOR_TOKEN)).toBeUndefined();
  });
});
