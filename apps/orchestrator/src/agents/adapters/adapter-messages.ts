import { toStorableText } from '@mosaic/orchestrator-contract';
import { type AgentMessage, type AgentStream, logMessage } from '../agent-output';

/** resultDataSchema's limits on `summary` and `error`. */
const MAX_SUMMARY_CHARS = 16 * 1024;
const MAX_ERROR_CHARS = 4096;

/** A `result` message with the agent's final text or its error, storable and cut to the contract's limits. */
export function resultMessage(outcome: { summary?: string; error?: string }): AgentMessage {
  const data: { summary?: string; error?: string } = {};
  if (outcome.summary !== undefined) data.summary = cut(outcome.summary, MAX_SUMMARY_CHARS);
  if (outcome.error !== undefined) data.error = cut(outcome.error, MAX_ERROR_CHARS);
  return { type: 'result', data };
}

/** One log message per line of the agent's text; blank lines carry nothing. */
export function textLogMessages(stream: AgentStream, text: string): AgentMessage[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => logMessage(stream, line));
}

/** A line of JSON as an object, or undefined: agents also print plain text, and a spooled line may be cut. */
export function jsonObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function stringField(object: unknown, key: string): string | undefined {
  const value = isObject(object) ? object[key] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** A token count as agents print it: a whole number, at least 0; anything else counts as 0. */
export function countField(object: unknown, key: string): number {
  const value = isObject(object) ? object[key] : undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

function cut(text: string, max: number): string {
  const storable = toStorableText(text);
  return storable.length <= max ? storable : `${storable.slice(0, max - 1).replace(/[\uD800-\uDBFF]$/, '')}…`;
}
