/** What the adapter specs share: recorded runs replayed and every message checked against the contract. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logDataSchema, progressDataSchema, resultDataSchema, usageDataSchema } from '@mosaic/orchestrator-contract';
import type { AgentMessage } from '../agent-output';
import type { AgentOutputParser } from './agent-adapter';

const SCHEMAS = { progress: progressDataSchema, log: logDataSchema, usage: usageDataSchema, result: resultDataSchema };

/** The stdout lines of a recorded run in fixtures/. */
export function fixtureLines(name: string): string[] {
  return readFileSync(join(__dirname, 'fixtures', name), 'utf8')
    .split('\n')
    .filter((line) => line !== '');
}

export function parseAll(parser: AgentOutputParser, lines: readonly string[]): AgentMessage[] {
  return lines.flatMap((line) => parser.parse('stdout', line));
}

/** Whether every message is one the contract's callbacks accept. */
export function allValid(messages: readonly AgentMessage[]): boolean {
  return messages.every((message) => SCHEMAS[message.type].safeParse(message.data).success);
}

type DataOf = { [K in AgentMessage['type']]: Extract<AgentMessage, { type: K }>['data'] };

export function ofType<T extends AgentMessage['type']>(messages: readonly AgentMessage[], type: T): DataOf[T][] {
  return messages.flatMap((message) => (message.type === type ? [message.data as DataOf[T]] : []));
}
