import {
  LIMITS,
  type UsageData,
  jsonEncodedBytes,
  jsonEncodedPrefix,
  logDataSchema,
  progressDataSchema,
  resultDataSchema,
  toStorableText,
  usageDataSchema,
} from '@mosaic/orchestrator-contract';
import { z } from 'zod';

export type AgentStream = 'stdout' | 'stderr';

/**
 * What one line of agent output means (see the protocol in sample-agent.ts); `seq` is
 * the line's place in the session's spool, which the event made of it carries.
 */
export type AgentMessage = (
  | { type: 'progress'; data: z.infer<typeof progressDataSchema> }
  | { type: 'result'; data: z.infer<typeof resultDataSchema> }
  | { type: 'usage'; data: UsageData }
  | { type: 'log'; data: z.infer<typeof logDataSchema> }
) & { seq?: number };

/** Longest line kept whole (the supervisor cuts longer ones: LINE_MAX in mosaic-supervisor.c); a protocol line carrying a full-size result summary fits. */
export const MAX_LINE_BYTES = 64 * 1024;
const TRUNCATION_MARK = ' …[truncated]';
/** progressDataSchema's limit on `message`. */
const MAX_PROGRESS_CHARS = 4096;
/** Room for the envelope the supervisor adds (ids, sequence, timestamp, type, status): well under 1 KiB. */
const MAX_PROTOCOL_DATA_BYTES = LIMITS.callbackBodyMaxBytes - 1024;

const protocolLineSchema = z.discriminatedUnion('type', [
  progressDataSchema.extend({ type: z.literal('progress') }).transform(({ type, ...data }) => ({ type, data })),
  resultDataSchema.extend({ type: z.literal('result') }).transform(({ type, ...data }) => ({ type, data })),
  usageDataSchema.extend({ type: z.literal('usage') }).transform(({ type, ...data }) => ({ type, data })),
]);

/**
 * Stdout lines that are JSON objects with `type` `progress`, `result` or `usage` (and valid
 * fields for that type, which the API can store, in a callback within its body
 * limit) are protocol messages; every other line, and every stderr line, is a log
 * line, so nothing an agent prints is lost for being malformed.
 */
export function parseAgentLine(stream: AgentStream, line: string): AgentMessage {
  if (stream === 'stdout' && line.startsWith('{')) {
    const message = protocolLineSchema.safeParse(safeJsonParse(line));
    if (message.success && Buffer.byteLength(JSON.stringify(message.data.data)) <= MAX_PROTOCOL_DATA_BYTES) return message.data;
  }
  return logMessage(stream, line);
}

/** A log line of any text: what the API cannot store replaced, and cut to the size a callback allows. */
export function logMessage(stream: AgentStream, text: string): AgentMessage {
  return { type: 'log', data: { stream, line: logLine(text) } };
}

/** A progress message of any text (an adapter's `Write src/a.ts`), cut to the contract's 4,096 characters. */
export function progressMessage(text: string, percent?: number): AgentMessage {
  const message = toStorableText(text);
  const cut = message.length <= MAX_PROGRESS_CHARS ? message : `${message.slice(0, MAX_PROGRESS_CHARS - 1).replace(/[\uD800-\uDBFF]$/, '')}…`;
  return { type: 'progress', data: percent === undefined ? { message: cut } : { message: cut, percent } };
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
 * A spooled line as text. The supervisor cuts a line at MAX_LINE_BYTES, which may
 * fall inside a character: its first bytes would decode to a replacement character,
 * which goes. A CRLF line loses its CR.
 */
export function decodeSpooledLine(line: Buffer): string {
  const decoded = line.toString('utf8');
  const text = line.length >= MAX_LINE_BYTES ? decoded.replace(/\uFFFD$/, '') : decoded;
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}
