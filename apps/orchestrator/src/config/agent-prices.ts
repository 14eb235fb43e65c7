import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** USD per million tokens, per model; for agents that report tokens but no cost (AGENT_PRICES_FILE). */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  /** Cached input tokens, where the agent reports them apart; `input` when absent. */
  readonly cached_input?: number;
}
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * USD per million tokens: the providers' public list prices for standard
 * processing and prompts under their long-context tiers, as the OpenAI and
 * Gemini API pricing pages stood in mid-2026 (quoted by public price guides).
 * Prices change: operators override or add models with AGENT_PRICES_FILE.
 */
export const DEFAULT_PRICES: PriceTable = {
  'gpt-5.5': { input: 5, cached_input: 0.5, output: 30 },
  'gpt-5.4': { input: 2.5, cached_input: 0.25, output: 15 },
  'gpt-5.4-mini': { input: 0.75, cached_input: 0.075, output: 4.5 },
  'gpt-5.3-codex': { input: 1.75, cached_input: 0.175, output: 14 },
  'gpt-5.2': { input: 1.75, cached_input: 0.175, output: 14 },
  'gpt-5.1': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5-codex': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5-mini': { input: 0.25, cached_input: 0.025, output: 2 },
  'o4-mini': { input: 1.1, cached_input: 0.275, output: 4.4 },
  'gemini-3.1-pro-preview': { input: 2, cached_input: 0.2, output: 12 },
  'gemini-3-flash-preview': { input: 0.5, cached_input: 0.05, output: 3 },
  'gemini-2.5-pro': { input: 1.25, cached_input: 0.125, output: 10 },
  'gemini-2.5-flash': { input: 0.3, cached_input: 0.075, output: 2.5 },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4 },
};

const price = z.number().min(0).max(1_000_000);
const priceFileSchema = z.record(
  z.string().min(1).max(200),
  z.strictObject({ input: price, output: price, cached_input: price.optional() }),
);

/** The bundled prices, with the operator's file (AGENT_PRICES_FILE: `{ "<model>": { input, output, cached_input? } }`) over them. */
export function loadPriceTable(path: string | undefined): PriceTable {
  if (path === undefined) return DEFAULT_PRICES;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`AGENT_PRICES_FILE ${path}: ${(error as Error).message}`);
  }
  const parsed = priceFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const entry = issue.path.length === 0 ? 'the file' : `entry ${JSON.stringify(issue.path[0])}`;
    const field = issue.path.length > 1 ? ` ${issue.path.slice(1).join('.')}` : '';
    throw new Error(`AGENT_PRICES_FILE ${path}: ${entry}${field}: ${issue.message}`);
  }
  return { ...DEFAULT_PRICES, ...parsed.data };
}
