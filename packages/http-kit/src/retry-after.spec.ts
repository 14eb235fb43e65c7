import { parseRetryAfter } from './retry-after';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00.000Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads every HTTP-date form', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:02 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Thursday, 01-Jan-26 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Thu Jan  1 00:00:07 2026', now)).toBe(7000);
  });

  it('treats a date in the past as no wait', () => {
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });

  it.each([undefined, null, ['3'], '', '   ', 'soon', '-1', '+3', '1e3', 'Thu, soon'])('ignores %p', (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });

  it('ignores a delay with a fraction: the grammar has none, and it is no date either', () => {
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('0.5', now)).toBeUndefined();
  });
});
