import { request as httpRequest } from 'node:http';

export interface HttpRequest {
  /** Sent as JSON; a string is sent as it is (malformed JSON, say). Either way as application/json unless `headers` say otherwise. */
  body?: unknown;
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  /** An answer that never comes fails the call rather than the whole test run; default 60 s. */
  timeoutMs?: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests check the shape
export interface HttpAnswer<Body = any> {
  status: number;
  headers: Headers;
  /** The body parsed as JSON; undefined when it is empty or no JSON. */
  body: Body;
  text: string;
  /** From the request to the whole answer, for bounds on how fast a service answers. */
  ms: number;
}

/** One HTTP request to a service under test, its answer read whole. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests check the shape
export async function request<Body = any>(method: string, url: string, options: HttpRequest = {}): Promise<HttpAnswer<Body>> {
  const started = performance.now();
  const response = await fetch(url, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined || typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: parseJson(text) as Body,
    text,
    ms: Math.round(performance.now() - started),
  };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * One request as bytes on a socket of its own, for hostile clients: node:http rather than fetch, since fetch
 * refuses or rewrites some of the headers they send. The body comes back as text, to be judged as it was sent.
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let answered: { status: number; chunks: Buffer[] } | undefined;
    const finish = () => answered && resolve({ status: answered.status, body: Buffer.concat(answered.chunks).toString('utf8') });
    const sent = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 30_000 }, (response) => {
      answered = { status: response.statusCode ?? 0, chunks: [] };
      response.on('data', (chunk: Buffer) => answered!.chunks.push(chunk));
      response.on('end', finish);
      response.on('error', finish);
    });
    sent.on('timeout', () => sent.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    // A server that answers before reading a hostile body closes the connection while the body is still being
    // written (EPIPE): once its answer has come, that answer is the result.
    sent.on('error', (error) => (answered ? finish() : reject(error)));
    sent.end(body);
  });
}
