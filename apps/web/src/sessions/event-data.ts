import type { SessionEvent } from '@mosaic/orchestrator-contract';

/** The fields of an event's `data` the page shows, each read only when it has the expected type. */
export interface EventFields {
  readonly percent?: number;
  readonly message?: string;
  readonly stream?: string;
  readonly line?: string;
  readonly exit_code?: number;
  readonly summary?: string;
  readonly error?: string;
  readonly actor?: string;
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly cost_usd?: number;
  readonly name?: string;
  readonly size?: number;
}

const NUMBERS = ['percent', 'exit_code', 'input_tokens', 'output_tokens', 'cost_usd', 'size'] as const;
const TEXTS = ['message', 'stream', 'line', 'summary', 'error', 'actor', 'name'] as const;

export function fieldsOf(event: SessionEvent): EventFields {
  const data = event.data;
  if (typeof data !== 'object' || data === null) return {};
  const record = data as Record<string, unknown>;
  const fields: Record<string, number | string> = {};
  for (const key of NUMBERS) if (typeof record[key] === 'number') fields[key] = record[key];
  for (const key of TEXTS) if (typeof record[key] === 'string') fields[key] = record[key];
  return fields;
}
