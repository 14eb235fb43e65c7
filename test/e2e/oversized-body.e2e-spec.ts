import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { errorBodySchema, type ErrorBody } from '@mosaic/orchestrator-contract';
import { testDatabaseUrl } from '../support/database';
import { startService, stopLeavingNoProcesses, withServiceOutput, type ServiceProcess } from '../support/service-process';

const ORCHESTRATOR_ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const ORCHESTRATOR_KEY = 'e2e-oversized-orchestrator-key';
const FIVE_MB = 5 * 1024 * 1024;
/** Sent one after another: whether the reset beat the answer was a matter of timing, one request got through often enough. */
const ATTEMPTS = 10;

jest.setTimeout(60_000);

interface Answer {
  status: number;
  /** The answer's `Connection` header: `close` under a sender still uploading is what reset it. */
  connection: string | null;
  body: ErrorBody;
}

/** A 5 MB JSON body sent with Node's fetch, as a client does; a connection reset fails the test here. */
async function send(url: string, headers: Record<string, string>, body: string | ReadableStream<Uint8Array>): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' });
  return { status: response.status, connection: response.headers.get('connection'), body: errorBodySchema.parse(await response.json()) };
}

function fiveMegabytes(): string {
  return JSON.stringify({ padding: 'x'.repeat(FIVE_MB) });
}

/** The same body without a Content-Length: Fastify finds it too large while reading it, not from the header. */
function fiveMegabytesStreamed(): ReadableStream<Uint8Array> {
  return new Blob([fiveMegabytes()]).stream();
}

/**
 * Both built services answer a body over their limit with a 413 the sender can
 * read, never a reset connection: they read the rest of the body and keep the
 * connection, rather than closing it under a sender that is still uploading.
 */
describe('a 5 MB body sent with fetch (built services)', () => {
  let orchestrator: ServiceProcess | undefined;
  let api: ServiceProcess | undefined;

  beforeAll(async () => {
    orchestrator = await startService({ name: 'orchestrator', entry: ORCHESTRATOR_ENTRY, env: { ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY } });
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      healthPath: '/health/orchestrator',
      env: { DATABASE_URL: testDatabaseUrl(), ORCHESTRATOR_URL: orchestrator.url, ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY },
    });
  });

  afterAll(async () => {
    await api?.stop();
    await stopLeavingNoProcesses(orchestrator);
  });

  async function expectReadable413s(url: string, headers: Record<string, string>): Promise<void> {
    const answers: Answer[] = [];
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) answers.push(await send(url, headers, fiveMegabytes()));
    answers.push(await send(url, headers, fiveMegabytesStreamed()));
    for (const answer of answers) {
      expect(answer).toEqual({
        status: 413,
        connection: 'keep-alive',
        body: { error: { code: 'payload_too_large', message: expect.any(String) } },
      });
    }
  }

  it(
    'the API answers a callback with 413 payload_too_large',
    withServiceOutput(
      () => [api],
      () =>
        expectReadable413s(`${api!.url}/orchestrator/callbacks/${randomUUID()}`, {
          authorization: 'Bearer mcb_not-checked-before-the-body',
        }),
    ),
  );

  it(
    'the orchestrator answers a spawn with 413 payload_too_large',
    withServiceOutput(
      () => [orchestrator],
      () =>
        expectReadable413s(`${orchestrator!.url}/orchestrator/sessions/spawn`, {
          authorization: `Bearer ${ORCHESTRATOR_KEY}`,
          'idempotency-key': randomUUID(),
        }),
    ),
  );
});
