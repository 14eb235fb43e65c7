import fc from 'fast-check';
import { describeCrossing, exceededLimit } from './budget';

describe('budget arithmetic', () => {
  it('passes a limit only when over it: a budget of 250 tokens allows 250', () => {
    expect(exceededLimit({ maxTokens: 250 }, { inputTokens: 150, outputTokens: 100, costUsd: 0 })).toBeUndefined();
    expect(exceededLimit({ maxTokens: 250 }, { inputTokens: 150, outputTokens: 101, costUsd: 0 })).toEqual({
      limit: 'max_tokens',
      max: 250,
      used: 251,
    });
    expect(exceededLimit({ maxCostUsd: 1.5 }, { inputTokens: 0, outputTokens: 0, costUsd: 1.5 })).toBeUndefined();
    expect(exceededLimit({ maxCostUsd: 1.5 }, { inputTokens: 0, outputTokens: 0, costUsd: 1.500001 })).toEqual({
      limit: 'max_cost_usd',
      max: 1.5,
      used: 1.500001,
    });
  });

  it("ignores the limits a budget does not set, and duration altogether (the watcher's)", () => {
    expect(exceededLimit({}, { inputTokens: 1e9, outputTokens: 1e9, costUsd: 1e6 })).toBeUndefined();
    expect(exceededLimit({ maxDurationS: 1 }, { inputTokens: 1e9, outputTokens: 0, costUsd: 0 })).toBeUndefined();
  });

  it('is crossed exactly when the tokens or the cost are over, whatever the usage', () => {
    fc.assert(
      fc.property(
        fc.record({
          maxTokens: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }),
          maxCostUsd: fc.option(fc.double({ min: 0.000001, max: 1e6, noNaN: true }), { nil: undefined }),
        }),
        fc.record({ inputTokens: fc.nat(1e9), outputTokens: fc.nat(1e9), costUsd: fc.double({ min: 0, max: 1e6, noNaN: true }) }),
        (budget, usage) => {
          const crossing = exceededLimit(budget, usage);
          const overTokens = budget.maxTokens !== undefined && usage.inputTokens + usage.outputTokens > budget.maxTokens;
          const overCost = budget.maxCostUsd !== undefined && usage.costUsd > budget.maxCostUsd;
          expect(crossing !== undefined).toBe(overTokens || overCost);
          if (crossing !== undefined) expect(crossing.used).toBeGreaterThan(crossing.max);
        },
      ),
    );
  });

  it('tells the event log which limit and by how much', () => {
    expect(describeCrossing({ limit: 'max_tokens', max: 250, used: 300 })).toEqual({
      reason: 'budget_exceeded',
      limit: 'max_tokens',
      max: 250,
      used: 300,
      over_by: 50,
    });
    expect(describeCrossing({ limit: 'max_cost_usd', max: 0.1, used: 0.3 }).over_by).toBe(0.2);
  });
});
