import { type ApiClient, ApiError, isAbort } from './client';
import { readEventStream, type SseMessage } from './event-stream';

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 10_000;

/** 1 s, 2 s, 4 s, 8 s, then 10 s. */
export function retryDelayMs(failures: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1));
}

export interface FollowOptions {
  readonly client: ApiClient;
  readonly path: string;
  readonly signal: AbortSignal;
  readonly onMessage: (message: SseMessage) => void;
  /** Each time the stream is open, `reconnected` after a drop. */
  readonly onOpen?: (reconnected: boolean) => void;
  /** Whether the stream is disconnected and waiting to retry, for the page to say so. */
  readonly onConnectionChange?: (connected: boolean) => void;
  /** Where to resume (`Last-Event-ID`); none for a stream that starts afresh. */
  readonly lastEventId?: () => string | undefined;
  /** Asked when the server ends the stream: true when it ended for good (the session is over). */
  readonly finished?: () => boolean | Promise<boolean>;
}

/**
 * Follows an event stream until it is finished or `signal` aborts, reconnecting
 * with backoff whenever it drops, the server fails or has too many streams
 * open (429, waiting at least its Retry-After). A refusal (another 4xx: bad
 * token, missing scope, no such session) is not retried: it is thrown.
 */
export async function followEventStream(options: FollowOptions): Promise<void> {
  const { client, path, signal } = options;
  let failures = 0;
  let opened = false;
  while (!signal.aborted) {
    let retryAfterMs = 0;
    try {
      const lastEventId = options.lastEventId?.();
      const response = await fetch(path, {
        headers: client.headers({ accept: 'text/event-stream', ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) }),
        signal,
        cache: 'no-store',
      });
      if (!response.ok || response.body === null) throw await client.failureOf(response);
      options.onConnectionChange?.(true);
      options.onOpen?.(opened);
      opened = true;
      failures = 0;
      await readEventStream(response.body, options.onMessage);
      if (await options.finished?.()) return;
    } catch (error) {
      if (signal.aborted || isAbort(error)) return;
      // A refusal (bad token, missing scope, no such session) does not go away by asking again; too many streams does.
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) throw error;
      if (error instanceof ApiError) retryAfterMs = error.retryAfterMs ?? 0;
    }
    options.onConnectionChange?.(false);
    failures += 1;
    await wait(Math.max(retryDelayMs(failures), retryAfterMs), signal);
  }
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
