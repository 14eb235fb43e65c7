import { SessionPricer } from './price-table';

describe('SessionPricer', () => {
  it('prices cached input at its own price, or at the input price when the model has none', () => {
    const pricer = new SessionPricer({ a: { input: 2, cached_input: 0.5, output: 8 }, b: { input: 2, output: 8 } }, 'agent');
    expect(pricer.cost('a', { input: 1_000_000, cachedInput: 1_000_000, output: 1_000_000 }).costUsd).toBe(10.5);
    expect(pricer.cost('b', { input: 0, cachedInput: 1_000_000, output: 0 }).costUsd).toBe(2);
  });

  it('prices an unknown model at 0 and says so once per model', () => {
    const pricer = new SessionPricer({}, 'codex');
    const tokens = { input: 1, cachedInput: 0, output: 1 };
    expect(pricer.cost('x', tokens)).toEqual({
      costUsd: 0,
      notices: [{ type: 'log', data: { stream: 'stderr', line: 'codex: model x has no price (AGENT_PRICES_FILE); its cost counts as 0' } }],
    });
    expect(pricer.cost('x', tokens).notices).toEqual([]);
    expect(pricer.cost(undefined, tokens).notices).toHaveLength(1);
  });
});
