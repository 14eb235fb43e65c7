import { USAGE_LIMITS, callbackEventSchema } from './callbacks';
import { LIMITS } from './gateway';
import { validate } from './validation';

const base = {
  event_id: 'e-1',
  session_id: 's-1',
  sequence: 1,
  timestamp: '2026-01-01T00:00:00.000Z',
};

describe('callbackEventSchema', () => {
  it('accepts a status event without data', () => {
    const result = validate(callbackEventSchema, { ...base, type: 'status', status: 'running' });
    expect(result).toEqual({ ok: true, value: { ...base, type: 'status', status: 'running', data: {} } });
  });

  it('requires status on result events and names the field', () => {
    const result = validate(callbackEventSchema, { ...base, type: 'result', data: {} });
    expect(result).toEqual({ ok: false, message: expect.stringContaining('status') });
  });

  it('rejects unknown fields by name', () => {
    const result = validate(callbackEventSchema, { ...base, type: 'log', data: { stream: 'stdout', line: 'x' }, extra: 1 });
    expect(result).toEqual({ ok: false, message: 'extra: unknown field' });
  });

  it('rejects a progress percent over 100', () => {
    const result = validate(callbackEventSchema, { ...base, type: 'progress', data: { message: 'm', percent: 101 } });
    expect(result).toEqual({ ok: false, message: expect.stringMatching(/^data\.percent: /) });
  });
});

describe('callbackEventSchema, on what PostgreSQL cannot store', () => {
  const events: [string, Record<string, unknown>][] = [
    ['event_id', { ...base, event_id: 'e\u0000', type: 'status', status: 'running' }],
    ['session_id', { ...base, session_id: '\uD800s', type: 'status', status: 'running' }],
    ['data.message', { ...base, type: 'progress', data: { message: 'm\u0000' } }],
    ['data.line', { ...base, type: 'log', data: { stream: 'stdout', line: '\uDC00' } }],
    ['data.summary', { ...base, type: 'result', status: 'completed', data: { summary: '\u0000' } }],
    ['data.error', { ...base, type: 'result', status: 'failed', data: { error: 'x\uDBFF' } }],
    ['data.error', { ...base, type: 'status', status: 'failed', data: { error: '\u0000' } }],
  ];

  it.each(events)('refuses a NUL or an unpaired surrogate in %s, naming it', (field, event) => {
    const result = validate(callbackEventSchema, event);
    expect(result).toEqual({
      ok: false,
      message: expect.stringMatching(new RegExp(`^${field.replace('.', '\\.')}: (contains a NUL|is not well-formed)`)),
    });
  });

  it('accepts well-formed text outside the BMP', () => {
    expect(validate(callbackEventSchema, { ...base, type: 'log', data: { stream: 'stdout', line: '🦊 done' } }).ok).toBe(true);
  });

  it.each([
    ['result', 2_147_483_647, true],
    ['result', -2_147_483_648, true],
    ['result', 2_147_483_648, false],
    ['status', 4_294_967_296, false],
    ['status', -2_147_483_649, false],
  ] as const)('takes a %s exit_code of %d only within int32: %s', (type, exitCode, accepted) => {
    const result = validate(callbackEventSchema, { ...base, type, status: 'failed', data: { exit_code: exitCode } });
    expect(result.ok).toBe(accepted);
    if (!result.ok) expect(result.message).toMatch(/^data\.exit_code: /);
  });
});

describe('callbackEventSchema, on the size of a log line', () => {
  const logEvent = (line: string) => ({ ...base, type: 'log', data: { stream: 'stdout', line } });

  it.each([
    ['16 KiB of ASCII', 'y'.repeat(LIMITS.logLineMaxEncodedBytes), true],
    ['16 KiB of 4-byte characters', '🦊'.repeat(LIMITS.logLineMaxEncodedBytes / 4), true],
    ['one 4-byte character more', '🦊'.repeat(LIMITS.logLineMaxEncodedBytes / 4 + 1), false],
    ['a sixth as many control characters, plus one', '\u0001'.repeat(Math.floor(LIMITS.logLineMaxEncodedBytes / 6) + 1), false],
    ['one ASCII character more', 'y'.repeat(LIMITS.logLineMaxEncodedBytes + 1), false],
  ])('measures the line as it travels, JSON-encoded in UTF-8: %s', (_case, line, accepted) => {
    const result = validate(callbackEventSchema, logEvent(line));
    expect(result.ok).toBe(accepted);
    if (!result.ok) expect(result.message).toMatch(/^data\.line: /);
  });
});

describe('callbackEventSchema, on usage events', () => {
  const usageEvent = (data: unknown) => ({ ...base, type: 'usage', data });

  it.each([
    ['every field', { input_tokens: 1200, output_tokens: 300, cost_usd: 0.0081, model: 'sample-model-1' }],
    ['one count alone', { output_tokens: 0 }],
    ['a cost alone', { cost_usd: 0.5 }],
    [
      'the limits',
      { input_tokens: USAGE_LIMITS.tokensPerReport, output_tokens: USAGE_LIMITS.tokensPerReport, cost_usd: USAGE_LIMITS.costUsdPerReport },
    ],
    ['a model of 200 characters', { input_tokens: 1, model: 'm'.repeat(200) }],
  ])('accepts %s', (_case, data) => {
    expect(validate(callbackEventSchema, usageEvent(data))).toEqual({ ok: true, value: usageEvent(data) });
  });

  it('accepts a status, as on the other events of the agent', () => {
    expect(validate(callbackEventSchema, { ...usageEvent({ input_tokens: 1 }), status: 'running' }).ok).toBe(true);
  });

  it.each([
    ['negative tokens', { input_tokens: -1 }, 'data.input_tokens'],
    ['a negative cost', { cost_usd: -0.01 }, 'data.cost_usd'],
    ['tokens over the limit', { output_tokens: USAGE_LIMITS.tokensPerReport + 1 }, 'data.output_tokens'],
    ['a cost over the limit', { cost_usd: USAGE_LIMITS.costUsdPerReport + 0.01 }, 'data.cost_usd'],
    ['fractional tokens', { input_tokens: 2.5 }, 'data.input_tokens'],
    ['tokens as a string', { input_tokens: '12' }, 'data.input_tokens'],
    ['a cost of "NaN"', { cost_usd: 'NaN' }, 'data.cost_usd'],
    ['a cost of NaN', { cost_usd: Number.NaN }, 'data.cost_usd'],
    ['an infinite cost', { cost_usd: Number.POSITIVE_INFINITY }, 'data.cost_usd'],
    ['a null count', { input_tokens: null, output_tokens: 1 }, 'data.input_tokens'],
    ['no count at all', { model: 'm' }, 'data'],
    ['nothing at all', {}, 'data'],
    ['an unknown field', { input_tokens: 1, cached_tokens: 1 }, 'data.cached_tokens'],
    ['an empty model', { input_tokens: 1, model: '' }, 'data.model'],
    ['a model of 201 characters', { input_tokens: 1, model: 'm'.repeat(201) }, 'data.model'],
    ['a model with a NUL', { input_tokens: 1, model: 'm\u0000' }, 'data.model'],
    ['null data', null, 'data'],
  ])('refuses %s, naming the field', (_case, data, field) => {
    const result = validate(callbackEventSchema, usageEvent(data));
    expect(result).toEqual({ ok: false, message: expect.stringMatching(new RegExp(`^${field.replace('.', '\\.')}: `)) });
  });
});
