import { type AgentMessage, logMessage } from '../agent-output';
import type { ModelPrice, PriceTable } from '../../config/agent-prices';

export interface TokenCounts {
  /** Input tokens billed at the full price. */
  readonly input: number;
  readonly cachedInput: number;
  readonly output: number;
}

/** Prices one session's tokens; a model the table lacks costs 0, and says so once on stderr. */
export class SessionPricer {
  private readonly unpriced = new Set<string>();

  constructor(
    private readonly prices: PriceTable,
    private readonly agentName: string,
  ) {}

  cost(model: string | undefined, tokens: TokenCounts): { costUsd: number; notices: AgentMessage[] } {
    const modelPrice = model === undefined ? undefined : this.prices[model];
    if (modelPrice !== undefined) return { costUsd: costOf(modelPrice, tokens), notices: [] };
    const name = model ?? 'unnamed';
    if (this.unpriced.has(name)) return { costUsd: 0, notices: [] };
    this.unpriced.add(name);
    return {
      costUsd: 0,
      notices: [logMessage('stderr', `${this.agentName}: model ${name} has no price (AGENT_PRICES_FILE); its cost counts as 0`)],
    };
  }
}

function costOf(modelPrice: ModelPrice, tokens: TokenCounts): number {
  const cached = modelPrice.cached_input ?? modelPrice.input;
  return (tokens.input * modelPrice.input + tokens.cachedInput * cached + tokens.output * modelPrice.output) / 1_000_000;
}
