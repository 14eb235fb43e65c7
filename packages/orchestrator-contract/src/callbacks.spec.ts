import { callbackEventSchema } from './callbacks';
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
