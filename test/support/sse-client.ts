import http from 'node:http';

export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
  /** `Date.now()` when the client parsed it: how long after it was stored it arrived. */
  readonly receivedAt: number;
}

export interface SseConnection {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The body of an answer other than 200 (a refusal), once read whole; empty for a stream. */
  readonly refusal: Promise<string>;
  /** Events received so far, in order. */
  readonly events: SseEvent[];
  /** Comment lines received so far (heartbeats), without the colon. */
  readonly comments: string[];
  /** Resolves when the server ends the stream (or the connection breaks). */
  readonly ended: Promise<void>;
  /** Resolves once `predicate` holds for the events received, or rejects after `timeoutMs`. */
  waitFor(predicate: (events: readonly SseEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

/**
 * Opens a Server-Sent Events stream the way a client library would, and parses what it receives;
 * `localAddress` (a loopback address such as 127.0.0.2) stands for another client's.
 */
export function openSse(
  url: string,
  headers: Record<string, string> = {},
  options: { localAddress?: string } = {},
): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, ...options }, (response) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      let closed = false;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = { id: undefined as string | undefined, event: 'message', data: [] as string[] };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else {
              const colon = line.indexOf(':');
              const name = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              isEvent = true;
              if (name === 'id') fields.id = value;
              else if (name === 'event') fields.event = value;
              else if (name === 'data') fields.data.push(value);
            }
          }
          if (isEvent) events.push({ id: fields.id, event: fields.event, data: fields.data.join('\n'), receivedAt: Date.now() });
        }
        for (const wake of waiters) wake();
      });
      const ended = new Promise<void>((done) => {
        const finish = () => {
          closed = true;
          for (const wake of waiters) wake();
          done();
        };
        response.on('end', finish);
        response.on('close', finish);
        response.on('error', finish);
      });
      const refusal =
        response.statusCode === 200
          ? Promise.resolve('')
          : new Promise<string>((done) => {
              let text = '';
              response.on('data', (chunk: string) => (text += chunk));
              response.on('close', () => done(text));
            });
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        refusal,
        events,
        comments,
        ended,
        waitFor(predicate, timeoutMs = 5_000) {
          return new Promise<void>((settle, fail) => {
            const check = () => {
              if (predicate(events)) {
                cleanup();
                settle();
              } else if (closed) {
                cleanup();
                fail(new Error(`the stream ended first; received ${JSON.stringify(events.map((event) => [event.id, event.event]))}`));
              }
            };
            const timer = setTimeout(() => {
              cleanup();
              fail(new Error(`not within ${timeoutMs} ms; received ${JSON.stringify(events.map((event) => [event.id, event.event]))}`));
            }, timeoutMs);
            const cleanup = () => {
              clearTimeout(timer);
              waiters.delete(check);
            };
            waiters.add(check);
            check();
          });
        },
        close() {
          request.destroy();
        },
      });
    });
    request.on('error', reject);
  });
}
