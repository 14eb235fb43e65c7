import { LIMITS, jsonEncodedBytes, jsonEncodedPrefix, logDataSchema, progressDataSchema, resultDataSchema, toStorableText } from '@mosaic/orchestrator-contract';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';

export type AgentStream = 'stdout' | 'stderr';

/** What one line of agent output means (see the protocol in sample-agent.ts). */
export type AgentMessage =
  | { type: 'progress'; data: z.infer<typeof progressDataSchema> }
  | { type: 'result'; data: z.infer<typeof resultDataSchema> }
  | { type: 'log'; data: z.infer<typeof logDataSchema> };

/** Longest line kept whole; a protocol line carrying a full-size result summary fits. */
export const MAX_LINE_BYTES = 64 * 1024;
const TRUNCATION_MARK = ' …[truncated]';
/** Room for the envelope the supervisor adds (ids, sequence, timestamp, type, status): well under 1 KiB. */
const MAX_PROTOCOL_DATA_BYTES = LIMITS.callbackBodyMaxBytes - 1024;

const protocolLineSchema = z.discriminatedUnion('type', [
  progressDataSchema.extend({ type: z.literal('progress') }),
  resultDataSchema.extend({ type: z.literal('result') }),
]);

/**
 * Stdout lines that are JSON objects with `type` `progress` or `result` (and valid
 * fields for that type, which the API can store, in a callback within its body
 * limit) are protocol messages; every other line, and every stderr line, is a log
 * line, so nothing an agent prints is lost for being malformed.
 */
export function parseAgentLine(stream: AgentStream, line: string): AgentMessage {
  if (stream === 'stdout' && line.startsWith('{')) {
    const message = protocolLineSchema.safeParse(safeJsonParse(line));
    if (message.success) {
      const { type, ...data } = message.data;
      const parsed: AgentMessage = type === 'progress' ? { type, data: progressDataSchema.parse(data) } : { type, data: resultDataSchema.parse(data) };
      if (Buffer.byteLength(JSON.stringify(parsed.data)) <= MAX_PROTOCOL_DATA_BYTES) return parsed;
    }
  }
  return { type: 'log', data: { stream, line: logLine(line) } };
}

/**
 * The line as a log callback can carry it: what the API cannot store (NUL,
 * unpaired surrogates) replaced, and cut, between code points, to the encoded
 * size the contract allows, so that a line of control characters (six bytes
 * each once escaped) cannot push its callback over the body limit.
 */
function logLine(line: string): string {
  const text = toStorableText(line);
  if (jsonEncodedBytes(text) <= LIMITS.logLineMaxEncodedBytes) return text;
  return jsonEncodedPrefix(text, LIMITS.logLineMaxEncodedBytes - jsonEncodedBytes(TRUNCATION_MARK)).text + TRUNCATION_MARK;
}

function safeJsonParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Splits a byte stream into UTF-8 lines. A line longer than `maxBytes` is cut there
 * and the rest of it discarded, so an agent that never prints a newline cannot make
 * the orchestrator buffer without bound.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  private discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxBytes = MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    this.buffer += this.decoder.write(chunk);
    let newline = this.buffer.indexOf('\n');
    while (newline !== -1) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (this.discarding) this.discarding = false;
      else this.emit(line);
      newline = this.buffer.indexOf('\n');
    }
    if (!this.discarding && Buffer.byteLength(this.buffer) > this.maxBytes) {
      this.emit(truncateToBytes(this.buffer, this.maxBytes));
      this.buffer = '';
      this.discarding = true;
    } else if (this.discarding) {
      this.buffer = '';
    }
  }

  /** Emits a final line that had no newline. */
  end(): void {
    this.buffer += this.decoder.end();
    if (!this.discarding && this.buffer !== '') this.emit(this.buffer);
    this.buffer = '';
    this.discarding = false;
  }

  private emit(line: string): void {
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}

function truncateToBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8').subarray(0, maxBytes);
  // A cut inside a multi-byte character would leave a replacement character at the end.
  return bytes.toString('utf8').replace(/\uFFFD$/, '');
}
