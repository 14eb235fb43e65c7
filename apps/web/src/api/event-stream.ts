/**
 * Server-Sent Events, read from a fetch() body. The page cannot use
 * EventSource: it sends no headers, and the operator's token must stay out of
 * URLs (and so out of every access log and the browser history).
 */

export interface SseMessage {
  /** The last event ID the stream set, as EventSource's `lastEventId`. */
  readonly id: string | undefined;
  /** `message` when the stream named none. */
  readonly event: string;
  readonly data: string;
}

/**
 * The SSE text format (WHATWG HTML, "Parsing an event stream"), fed in chunks
 * split anywhere: lines end in CRLF, LF or CR, `:` lines are comments
 * (heartbeats), and a message is dispatched at a blank line.
 */
export class SseParser {
  private pending = '';
  /** A chunk ended in CR: an LF opening the next one belongs to the same line end. */
  private afterCarriageReturn = false;
  private data: string[] = [];
  private event = '';
  private lastEventId: string | undefined;

  /** The messages completed by `chunk`. */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.afterCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    this.afterCarriageReturn = false;
    const messages: SseMessage[] = [];
    let start = 0;
    const all = this.pending + text;
    for (let index = this.pending.length; index < all.length; index += 1) {
      const character = all[index];
      if (character !== '\n' && character !== '\r') continue;
      const message = this.line(all.slice(start, index));
      if (message !== undefined) messages.push(message);
      if (character === '\r') {
        if (index + 1 === all.length) this.afterCarriageReturn = true;
        else if (all[index + 1] === '\n') index += 1;
      }
      start = index + 1;
    }
    this.pending = all.slice(start);
    return messages;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      // `retry` is ignored: the page reconnects on its own schedule.
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const data = this.data;
    const event = this.event;
    this.data = [];
    this.event = '';
    if (data.length === 0) return undefined;
    return { id: this.lastEventId, event: event === '' ? 'message' : event, data: data.join('\n') };
  }
}

/**
 * Reads an event stream's body to its end, handing each message over as it
 * completes. An unfinished message at the end is dropped, as EventSource does.
 */
export async function readEventStream(body: ReadableStream<Uint8Array>, onMessage: (message: SseMessage) => void): Promise<void> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const message of parser.push(decoder.decode(value, { stream: true }))) onMessage(message);
    }
    for (const message of parser.push(decoder.decode())) onMessage(message);
  } finally {
    reader.releaseLock();
  }
}
