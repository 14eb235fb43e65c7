import { logDataSchema, progressDataSchema, resultDataSchema } from '@mosaic/orchestrator-contract';
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
const MAX_LOG_LINE_CHARS = logDataSchema.shape.line.maxLength ?? 16 * 1024;
const TRUNCATION_MARK = ' …[truncated]';

const protocolLineSchema = z.discriminatedUnion('type', [
  progressDataSchema.extend({ type: z.literal('progress') }),
  resultDataSchema.extend({ type: z.literal('result') }),
]);

/**
 * Stdout lines that are JSON objects with `type` `progress` or `result` (and valid
 * fields for that type) are protocol messages; every other line, and every stderr
 * line, is a log line, so nothing an agent prints is lost for being malformed.
 */
export function parseAgentLine(stream: AgentStream, line: string): AgentMessage {
  if (stream === 'stdout' && line.startsWith('{')) {
    const message = protocolLineSchema.safeParse(safeJsonParse(line));
    if (message.success) {
      const { type, ...data } = message.data;
      return type === 'progress' ? { type, data: progressDataSchema.parse(data) } : { type, data: resultDataSchema.parse(data) };
    }
  }
  const text = line.length > MAX_LOG_LINE_CHARS ? line.slice(0, MAX_LOG_LINE_CHARS - TRUNCATION_MARK.length) + TRUNCATION_MARK : line;
  return { type: 'log', data: { stream, line: text } };
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
