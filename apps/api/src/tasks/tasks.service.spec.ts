import type { BudgetDto } from './create-task.dto';
import { budgetOf } from './tasks.service';

describe('budgetOf', () => {
  it('takes each limit that is set', () => {
    expect(budgetOf({ max_tokens: 100, max_cost_usd: 0.5, max_duration_s: 60 })).toEqual({
      maxTokens: 100,
      maxCostUsd: 0.5,
      maxDurationS: 60,
    });
    expect(budgetOf({ max_cost_usd: 0.5 })).toEqual({ maxCostUsd: 0.5 });
  });

  // JSON null passes validation as an absent limit does; max_tokens null used to reach BigInt(null), a 500.
  it('sets no limit for one sent as null, nor for an absent or null budget', () => {
    const nulls = { max_tokens: null, max_cost_usd: null, max_duration_s: null } as unknown as BudgetDto;
    expect(budgetOf(nulls)).toEqual({});
    expect(budgetOf({ ...nulls, max_duration_s: 60 })).toEqual({ maxDurationS: 60 });
    expect(budgetOf(undefined)).toEqual({});
    expect(budgetOf(null as unknown as undefined)).toEqual({});
  });
});
