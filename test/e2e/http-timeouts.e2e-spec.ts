import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { testDatabaseUrl } from '../support/database';
import { startService, stopLeavingNoProcesses, type ServiceProcess } from '../support/service-process';

const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const ORCHESTRATOR_ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const REQUEST_TIMEOUT_MS = 2_000;
/** docs/operations.md: the API checks its connections' timeouts every second. */
const CHECK_INTERVAL_MS = 1_000;
/** Node keeps an idle kept-alive socket this much longer than the Keep-Alive timeout it announces (keepAliveTimeoutBuffer). */
const KEEP_ALIVE_BUFFER_MS = 1_000;
/** For a loaded machine: the bound this test holds the API to is the documented time plus this. */
const SLACK_MS = 1_500;

jest.setTimeout(60_000);

interface Cut {
  afterMs: number;
  received: string;
}

/** Opens a connection and resolves once the API closes it (or after `giveUpMs`, as `undefined`). */
async function whenCut(port: number, giveUpMs: number, use: (socket: Socket) => void): Promise<Cut | undefined> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const started = Date.now();
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  use(socket);
  const closed = await Promise.race([
    once(socket, 'close').then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), giveUpMs)),
  ]);
  socket.destroy();
  return closed ? { afterMs: Date.now() - started, received } : undefined;
}

/** Trickles a request head a byte a second: the service must answer 408 and close within the documented time. */
async function expectTrickleCut(port: number): Promise<void> {
  const head = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'x'.repeat(100);
  let timer: NodeJS.Timeout | undefined;
  const cut = await whenCut(port, 20_000, (socket) => {
    let sent = 0;
    timer = setInterval(() => {
      if (!socket.destroyed && sent < head.length) socket.write(head[sent++]!);
    }, 1_000);
    socket.write(head[sent++]!);
  });
  clearInterval(timer);

  expect(cut).toBeDefined();
  expect(cut!.received).toMatch(/^HTTP\/1\.1 408 /);
  expect(cut!.afterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
  expect(cut!.afterMs).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS);
}

/**
 * The documented bounds on a connection (docs/operations.md, "Bounds under
 * load"), held by the built API with HTTP_REQUEST_TIMEOUT_MS of 2 s.
 */
describe('HTTP connection timeouts (built API)', () => {
  let api: ServiceProcess;

  beforeAll(async () => {
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      // No orchestrator: /health answers 503, which is an answer all the same.
      readyStatuses: [200, 503],
      env: { DATABASE_URL: testDatabaseUrl(), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) },
    });
  });

  afterAll(async () => {
    await api.stop();
  });

  it('cuts a client trickling its request head a byte a second once the request timeout has passed, with a 408', async () => {
    await expectTrickleCut(api.port);
  });

  it("closes a kept-alive connection that is idle after its answer within the request timeout and Node's 1 s buffer", async () => {
    const cut = await whenCut(api.port, 20_000, (socket) => socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));

    expect(cut).toBeDefined();
    expect(cut!.received).toMatch(/^HTTP\/1\.1 503 /);
    expect(cut!.received).toContain(`Keep-Alive: timeout=${REQUEST_TIMEOUT_MS / 1000}`);
    expect(cut!.afterMs).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + KEEP_ALIVE_BUFFER_MS + SLACK_MS);
  });

  it('cuts a connection that sends nothing once the request timeout has passed, with a 408', async () => {
    const cut = await whenCut(api.port, 20_000, () => undefined);

    expect(cut).toBeDefined();
    expect(cut!.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(cut!.afterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(cut!.afterMs).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS);
  });
});

describe('HTTP connection timeouts (built orchestrator)', () => {
  let orchestrator: ServiceProcess | undefined;

  beforeAll(async () => {
    orchestrator = await startService({
      name: 'orchestrator',
      entry: ORCHESTRATOR_ENTRY,
      env: { HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(orchestrator);
  });

  it('cuts a client trickling its request head a byte a second once the request timeout has passed, with a 408', async () => {
    await expectTrickleCut(orchestrator!.port);
  });
});
