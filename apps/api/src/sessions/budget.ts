/** A task's budget, per session (contract v2, `POST /tasks` `budget`); an absent limit does not apply. */
export interface Budget {
  readonly maxTokens?: number;
  readonly maxCostUsd?: number;
  readonly maxDurationS?: number;
}

/** What a session spent: the sums of its stored usage events. */
export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
}

export const NO_USAGE: Usage = { inputTokens: 0, outputTokens: 0, costUsd: 0 };

export type BudgetLimit = 'max_tokens' | 'max_cost_usd' | 'max_duration_s';

/** Which limit a session passed, the limit, and what it had used when it was seen passing it. */
export interface BudgetCrossing {
  readonly limit: BudgetLimit;
  readonly max: number;
  readonly used: number;
}

/** The `error` of a session cancelled for passing its budget. */
export const BUDGET_EXCEEDED_ERROR = 'budget_exceeded';

/**
 * The first limit of `budget` that `usage` passes (is over, not at: a budget
 * of 250 tokens allows 250), or undefined. Tokens count input and output
 * together. Duration is the budget watcher's, which knows the clock.
 */
export function exceededLimit(budget: Budget, usage: Usage): BudgetCrossing | undefined {
  const tokens = usage.inputTokens + usage.outputTokens;
  if (budget.maxTokens !== undefined && tokens > budget.maxTokens) return { limit: 'max_tokens', max: budget.maxTokens, used: tokens };
  if (budget.maxCostUsd !== undefined && usage.costUsd > budget.maxCostUsd)
    return { limit: 'max_cost_usd', max: budget.maxCostUsd, used: usage.costUsd };
  return undefined;
}

/** How the event log tells the crossing: which limit, the limit, what was used, and by how much it was passed. */
export function describeCrossing(crossing: BudgetCrossing): Record<string, unknown> {
  const over = crossing.limit === 'max_cost_usd' ? Math.round((crossing.used - crossing.max) * 1e6) / 1e6 : crossing.used - crossing.max;
  return { reason: BUDGET_EXCEEDED_ERROR, limit: crossing.limit, max: crossing.max, used: crossing.used, over_by: over };
}
