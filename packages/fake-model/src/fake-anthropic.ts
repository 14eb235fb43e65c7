import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageBody, messageEvents, sseFrame } from './message-events';
import { FINAL_TURN, type ReplyTurn, type Turn } from './script';

export interface RecordedRequest {
  readonly method: string;
  /** The path without its query (`/v1/messages` for `/v1/messages?beta=true`). */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as parsed JSON; `undefined` when there was none or it was not JSON. */
  readonly body: unknown;
}

export interface FakeAnthropic {
  /** The base URL a client takes as ANTHROPIC_BASE_URL. */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A Messages API on loopback that answers each `POST /v1/messages` with the
 * script's next turn, streamed when the request asks for a stream, so that a real
 * coding agent runs against it offline and deterministically.
 */
export async function startFakeAnthropic(script: readonly Turn[]): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  let calls = 0;
  const server = createServer((request, response) => {
    void readBody(request).then(async (body) => {
      const path = new URL(request.url ?? '/', 'http://fake').pathname;
      requests.push({ method: request.method ?? '', path, headers: request.headers, body });
      if (request.method === 'HEAD') return void response.writeHead(200).end();
      if (request.method === 'POST' && path === '/v1/messages/count_tokens') return sendJson(response, 200, { input_tokens: 100 });
      if (request.method !== 'POST' || path !== '/v1/messages') return sendError(response, 404, 'not_found_error', `no route ${path}`);
      calls += 1;
      await answer(response, script[calls - 1] ?? FINAL_TURN, calls, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        // Silent and slow answers hold their connections open: end them, or close would wait for them.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(response: ServerResponse, turn: Turn, call: number, body: unknown): Promise<void> {
  if (turn.type === 'silence') return;
  if (turn.type === 'error') return sendError(response, turn.status, turn.errorType, turn.message);
  const request = isRecord(body) ? body : {};
  const model = typeof request.model === 'string' ? request.model : 'claude-fake';
  if (request.stream !== true) return sendJson(response, 200, messageBody(turn, call, model));
  await stream(response, turn, call, model);
}

async function stream(response: ServerResponse, turn: ReplyTurn, call: number, model: string): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_fake_${call}` });
  const events = messageEvents(turn, call, model);
  for (const [index, event] of events.entries()) {
    if (response.destroyed) return;
    if (index === turn.cutAfterEvents) return void response.destroy();
    if (index > 0 && turn.delayMs !== undefined) await sleep(turn.delayMs);
    // Each event reaches the socket before the next step, so that a cut comes after exactly the events sent.
    await new Promise<void>((resolve) => response.write(sseFrame(event), () => resolve()));
  }
  response.end();
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  sendJson(response, status, { type: 'error', error: { type, message } });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return chunks.length === 0 ? undefined : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
