import Fastify, { type FastifyInstance } from 'fastify';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { contractFrameworkErrors } from './framework-errors';
import { drainUnreadBodies } from './unread-body';

const LIMIT = 64 * 1024;
// Long enough for the rest of a 1 MB body to be written on a busy machine, so only the test that means to is cut.
const MAX_DRAIN_MS = 1_500;

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Reads one HTTP/1.1 answer with a Content-Length off a raw socket. */
function readAnswer(socket: Socket): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = received.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(headers)?.[1] ?? 0);
      if (received.length < end + 4 + length) return;
      socket.off('data', onData);
      resolve({ status: Number(headers.split(' ')[1]), headers, body: received.subarray(end + 4, end + 4 + length).toString('utf8') });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

function writeAll(socket: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (error) => (error ? reject(error) : resolve())));
}

function postHead(headers: Record<string, string>, path = '/echo'): string {
  const lines = Object.entries({ host: 'test', 'content-type': 'application/json', ...headers }).map(
    ([name, value]) => `${name}: ${value}\r\n`,
  );
  return `POST ${path} HTTP/1.1\r\n${lines.join('')}\r\n`;
}

/** How a socket ended: `end` when the server closed it in order, or the error that reset it. */
function howItEnds(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Settles with 'no answer' unless an answer comes within `ms`. */
const within = <T>(answer: Promise<T>, ms: number) => Promise.race([answer, sleep(ms).then(() => 'no answer' as const)]);

/** One chunk of `size` bytes in the chunked transfer coding. */
function chunk(size: number): Buffer {
  return Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), Buffer.alloc(size, 'x'), Buffer.from('\r\n')]);
}

describe('answers to requests whose body is left unread', () => {
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    app = Fastify({ bodyLimit: LIMIT, ...contractFrameworkErrors });
    drainUnreadBodies(app, MAX_DRAIN_MS);
    app.post('/echo', async (request) => request.body);
    app.post('/items/:id', async (request) => request.body);
    app.get('/ok', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });

  afterAll(() => app.close());

  /** A 1 MB body, sent in two parts: up to the limit, then the rest once the answer came. */
  const framings = {
    'a Content-Length': {
      head: postHead({ 'content-length': String(1024 * 1024) }),
      parts: [Buffer.alloc(LIMIT, 'x'), Buffer.alloc(1024 * 1024 - LIMIT, 'x')],
    },
    'chunked transfer coding': {
      head: postHead({ 'transfer-encoding': 'chunked' }),
      parts: [chunk(LIMIT + 1), Buffer.concat([chunk(1024 * 1024 - LIMIT - 1), Buffer.from('0\r\n\r\n')])],
    },
  };

  it.each(Object.entries(framings))(
    'answers a body with %s before it is over, reads the rest, and keeps the connection',
    async (_framing, { head, parts }) => {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const answered = readAnswer(socket);
      await writeAll(socket, head);
      await writeAll(socket, parts[0]);
      const refusal = await answered;
      expect(refusal.status).toBe(413);
      expect(refusal.headers).not.toMatch(/\r\nconnection: close/i);

      await writeAll(socket, parts[1]);
      // Past the drain time: the body was over, so nothing may cut the connection now.
      await sleep(MAX_DRAIN_MS * 2);
      const next = readAnswer(socket);
      await writeAll(socket, 'GET /ok HTTP/1.1\r\nhost: test\r\n\r\n');
      expect(await next).toMatchObject({ status: 200, body: '{"ok":true}' });
      socket.destroy();
    },
  );

  it('cuts a sender that is still sending the refused body after the drain time', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const answered = readAnswer(socket);
    await writeAll(socket, postHead({ 'content-length': String(100 * 1024 * 1024) }));
    await writeAll(socket, Buffer.alloc(LIMIT + 1, 'x'));
    expect((await answered).status).toBe(413);
    const started = Date.now();
    await once(socket, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(MAX_DRAIN_MS - 50);
  });

  const closing = {
    'a body over the limit': { path: '/echo', type: 'application/json', status: 413 },
    'a body of a type no parser takes': { path: '/echo', type: 'application/xml', status: 415 },
    'a path segment past the router limit': { path: `/items/${'a'.repeat(101)}`, type: 'application/json', status: 414 },
  };

  it.each(Object.entries(closing))(
    'answers %s at once to a client that asked to close, and closes only once the body is over, without a reset',
    async (_what, { path, type, status }) => {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const answered = readAnswer(socket);
      const ended = howItEnds(socket);
      await writeAll(socket, postHead({ 'content-type': type, 'content-length': String(1024 * 1024), connection: 'close' }, path));
      await writeAll(socket, Buffer.alloc(LIMIT + 1, 'x'));
      expect((await answered).status).toBe(status);
      // Closed now, with the rest of the body unread, the connection would be reset, and the reset could overtake the answer.
      expect(await within(ended, 300)).toBe('no answer');

      await writeAll(socket, Buffer.alloc(1024 * 1024 - LIMIT - 1, 'x'));
      expect(await ended).toBe('end');
    },
  );

  it('answers a request head over the limit (431), and lets the client go on sending a while', async () => {
    // Half open, as a client still uploading is: our side stays writable after the server closed its own.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await once(socket, 'connect');
    const answered = readAnswer(socket);
    const ended = howItEnds(socket);
    await writeAll(socket, postHead({ 'content-length': String(1024 * 1024), 'x-padding': 'p'.repeat(20_000) }));
    await writeAll(socket, Buffer.alloc(LIMIT, 'x'));
    const refusal = await answered;
    expect(refusal.status).toBe(431);
    expect(JSON.parse(refusal.body)).toEqual({
      error: { code: 'bad_request', message: 'the request head (request line and headers) is too large' },
    });
    expect(await ended).toBe('end');

    // The server's side is closed, the client's still open: what it goes on sending meets no reset for a while.
    await writeAll(socket, Buffer.alloc(256 * 1024, 'x'));
    socket.destroy();
  });

  it('leaves other answers alone', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect([response.status, await response.json()]).toEqual([200, { a: 1 }]);
  });
});
