import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from './eventually';

export interface ReceivedCallback {
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** The status this receiver answered with. */
  status: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Decides the answer to one request; `index` counts the endpoint's requests from 0. May wait, e.g. to hold a request open. */
export type Responder = (request: {
  index: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}) => Answer | number | Promise<Answer | number>;

/** Answers with `statuses` in turn, then keeps answering with the last one: `answerInTurn(500, 202)`. */
export function answerInTurn(...statuses: number[]): Responder {
  return ({ index }) => statuses[Math.min(index, statuses.length - 1)];
}

/** One path on the receiver, with its own answers and its own record, so that tests sharing a receiver do not see each other's callbacks. */
export class CallbackEndpoint {
  readonly received: ReceivedCallback[] = [];

  constructor(
    readonly url: string,
    public responder: Responder,
  ) {}

  /** Bodies of the requests answered with a 2xx. */
  accepted<T = Record<string, unknown>>(): T[] {
    return this.received.filter((request) => request.status >= 200 && request.status < 300).map((request) => request.body as T);
  }

  /** Waits until `condition` holds for what was received; rejects with what was received after `timeoutMs`. */
  waitFor(condition: (received: ReceivedCallback[]) => boolean, timeoutMs = 15_000): Promise<ReceivedCallback[]> {
    return eventually(() => {
      if (!condition(this.received)) throw new Error('callback condition not met');
      return this.received;
    }, timeoutMs).catch((error: Error) => {
      error.message += `; received:\n${JSON.stringify(this.received, null, 2)}`;
      throw error;
    });
  }
}

/** A real HTTP server standing in for the callback receiver of the API (docs/contract.md §3). */
export class CallbackReceiver {
  private readonly endpoints = new Map<string, CallbackEndpoint>();
  private counter = 0;

  private readonly server: Server;
  baseUrl = '';

  private constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        // The answer is written when handling ends; handle's failures answer 500.
        void this.handle(request.url ?? '/', request.headers, Buffer.concat(chunks).toString('utf8')).then(
          (answer) => {
            response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
            response.end(JSON.stringify(answer.body ?? {}));
          },
          (error: unknown) => {
            // A responder that throws is a bug in the test; answer so the service under test is not left hanging.
            response.writeHead(500);
            response.end(String(error));
          },
        );
      });
    });
  }

  static async start(): Promise<CallbackReceiver> {
    const receiver = new CallbackReceiver();
    receiver.server.listen(0, '127.0.0.1');
    await once(receiver.server, 'listening');
    receiver.baseUrl = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}`;
    return receiver;
  }

  /** A new endpoint with a unique path; answers 202 unless told otherwise. */
  endpoint(responder: Responder = () => 202): CallbackEndpoint {
    const path = `/callbacks/${++this.counter}`;
    const endpoint = new CallbackEndpoint(`${this.baseUrl}${path}`, responder);
    this.endpoints.set(path, endpoint);
    return endpoint;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private async handle(path: string, headers: IncomingHttpHeaders, text: string): Promise<Answer> {
    const endpoint = this.endpoints.get(path);
    if (!endpoint) return { status: 404, body: { error: { code: 'not_found', message: `no endpoint ${path}` } } };
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Kept as text: the record shows what was sent.
    }
    const index = endpoint.received.length;
    const record: ReceivedCallback = { path, headers, body, status: 0 };
    endpoint.received.push(record);
    const result = await endpoint.responder({ index, headers, body });
    const answer = typeof result === 'number' ? { status: result } : result;
    record.status = answer.status;
    return answer;
  }
}
