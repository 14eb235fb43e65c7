import { createHash, timingSafeEqual } from 'node:crypto';

/** The credentials of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750). */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * Compares two secrets in time independent of where they differ. Hashing first
 * gives equal-length inputs, so the length of the expected secret leaks neither.
 */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
