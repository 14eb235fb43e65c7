/**
 * A `Retry-After` header (RFC 9110, section 10.2.3) as a wait in milliseconds
 * from `now`; undefined when it is absent or neither of its two forms.
 *
 * Delay-seconds is `1*DIGIT`: "1.5" or "-1" are not delays, and no dates
 * either, so they are ignored and the caller's own backoff applies. Every
 * HTTP-date form starts with a day name, which keeps `Date.parse` from reading
 * a number as a date. A date in the past means no wait.
 */
export function parseRetryAfter(header: unknown, now: number): number | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  if (!/^[A-Za-z]{3}/.test(value)) return undefined;
  // HTTP dates are in GMT; the obsolete asctime form does not say so, and Date.parse would read it as local time.
  const date = Date.parse(value.endsWith(' GMT') ? value : `${value} GMT`);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
