import type { ServerResponse } from 'node:http';

export interface SseMessage {
  readonly id?: string;
  readonly event: string;
  /** One line: JSON has no raw newlines. */
  readonly data: string;
}

export interface SseStreamOptions {
  /** How often an idle stream sends a comment, so that proxies and clients keep it open. */
  readonly heartbeatMs: number;
  /**
   * The most the API holds for a client that does not read: past it the
   * stream is cut, and the client resumes by `Last-Event-ID`. Without it one
   * stalled client would grow the API's memory with every event.
   */
  readonly maxBufferedBytes: number;
  /** How long the client has to take in what is buffered when the stream ends, before its socket is cut. */
  readonly endGraceMs: number;
}

/**
 * How the API ends a stream: `ended` after its last event (or at shutdown),
 * `expired` at its maximum life, `revoked` with its operator key.
 */
export type SseEnding = 'ended' | 'expired' | 'revoked';

/** How a stream ended: as the API ended it, `cut` for a client that did not read, `closed` by the client. */
export type SseEnd = SseEnding | 'cut' | 'closed';

/**
 * One Server-Sent Events response on a raw Node response (the route took it
 * over from Fastify). Writes never wait: a client that falls more than
 * `maxBufferedBytes` behind is cut off.
 */
export class SseStream {
  private readonly heartbeat: NodeJS.Timeout;
  private endedAs: SseEnd | undefined;
  readonly done: Promise<SseEnd>;

  constructor(
    private readonly response: ServerResponse,
    private readonly options: SseStreamOptions,
  ) {
    // Heartbeats tell a dead client; the server's idle-socket timeout must not cut a quiet stream.
    response.socket?.setTimeout(0);
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and its kin buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    // Sends the headers now, so the client knows the stream is open before the first event.
    response.write(': open\n\n');
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), options.heartbeatMs);
    this.heartbeat.unref();
    this.done = new Promise((resolve) => {
      response.once('close', () => {
        clearInterval(this.heartbeat);
        this.endedAs ??= 'closed';
        resolve(this.endedAs);
      });
    });
  }

  get open(): boolean {
    return this.endedAs === undefined && !this.response.destroyed;
  }

  /** Whether the client is behind: what is buffered waits to be read. */
  get behind(): boolean {
    return this.response.writableNeedDrain;
  }

  /** Sends one event; false when the stream is no longer open (or was cut off by this one). */
  send(message: SseMessage): boolean {
    return this.write(`${message.id === undefined ? '' : `id: ${message.id}\n`}event: ${message.event}\ndata: ${message.data}\n\n`);
  }

  /** Resolves once the client has read what is buffered (or the stream is gone). */
  drained(): Promise<void> {
    if (!this.open || !this.behind) return Promise.resolve();
    return new Promise((resolve) => {
      const settle = () => {
        this.response.off('drain', settle);
        this.response.off('close', settle);
        resolve();
      };
      this.response.once('drain', settle);
      this.response.once('close', settle);
    });
  }

  /** Ends the stream after what was sent; a client that does not take it in within the grace is cut. */
  end(how: SseEnding = 'ended'): void {
    if (!this.open) return;
    this.endedAs = how;
    clearInterval(this.heartbeat);
    this.response.end();
    setTimeout(() => this.response.destroy(), this.options.endGraceMs).unref();
  }

  private write(chunk: string): boolean {
    if (!this.open) return false;
    if (this.response.writableLength + Buffer.byteLength(chunk) > this.options.maxBufferedBytes) {
      this.endedAs = 'cut';
      this.response.destroy();
      return false;
    }
    this.response.write(chunk);
    return true;
  }
}
