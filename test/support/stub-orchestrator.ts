import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface StubRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

export interface StubAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** How the stub answers one request (it may take its time); the default answers like a healthy orchestrator. */
export type StubResponder = (request: StubRequest) => StubAnswer | undefined | Promise<StubAnswer | undefined>;

/**
 * A small real HTTP server speaking the orchestrator's API (docs/contract.md §2)
 * just enough for the API's own tests: it records every request and answers
 * spawn with a new session, unless a test says otherwise.
 */
export class StubOrchestrator {
  readonly requests: StubRequest[] = [];
  respond: StubResponder = () => undefined;

  private readonly server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: StubRequest = {
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: request.headers,
        body: text === '' ? undefined : JSON.parse(text),
      };
      this.requests.push(recorded);
      // The stub answers whenever the test's responder decides.
      void Promise.resolve(this.respond(recorded)).then((answer = defaultAnswer(recorded)) => {
        response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        response.end(JSON.stringify(answer.body));
      });
    });
  });
  url = '';

  static async start(): Promise<StubOrchestrator> {
    const stub = new StubOrchestrator();
    stub.server.listen(0, '127.0.0.1');
    await once(stub.server, 'listening');
    stub.url = `http://127.0.0.1:${(stub.server.address() as { port: number }).port}`;
    return stub;
  }

  spawns(): StubRequest[] {
    return this.requests.filter((request) => request.path === '/orchestrator/sessions/spawn');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

function defaultAnswer(request: StubRequest): StubAnswer {
  const now = new Date().toISOString();
  if (request.path === '/health') return { status: 200, body: { status: 'ok', version: 'stub', active_sessions: 0 } };
  if (request.path === '/orchestrator/sessions/spawn') {
    return { status: 201, body: { session_id: randomUUID(), status: 'pending', created_at: now } };
  }
  const kill = /^\/orchestrator\/sessions\/([^/]+)\/kill$/.exec(request.path);
  if (kill) return { status: 200, body: { session_id: decodeURIComponent(kill[1]!), status: 'killed' } };
  const cancel = /^\/orchestrator\/sessions\/([^/]+)\/cancel$/.exec(request.path);
  if (cancel) return { status: 200, body: { session_id: decodeURIComponent(cancel[1]!), status: 'cancelled' } };
  const status = /^\/orchestrator\/sessions\/([^/]+)\/status$/.exec(request.path);
  if (status) return { status: 200, body: { session_id: decodeURIComponent(status[1]!), status: 'running', created_at: now } };
  return { status: 404, body: { error: { code: 'not_found', message: 'stub: no such route' } } };
}
