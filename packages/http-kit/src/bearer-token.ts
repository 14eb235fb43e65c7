import { createHash, timingSafeEqual } from 'node:crypto';

/** RFC 6750's b64token: what may stand after `Bearer `. */
const B64TOKEN = '[A-Za-z0-9\\-._~+/]+=*';
const AUTHORIZATION = new RegExp(`^Bearer +(${B64TOKEN})$`, 'i');
const TOKEN = new RegExp(`^${B64TOKEN}$`);

/**
 * The credentials of an `Authorization: Bearer <token>` header (RFC 6750,
 * section 2.1: the scheme is case-insensitive).
 */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  return AUTHORIZATION.exec(header.trim())?.[1];
}

/** Whether a secret can be sent as a bearer token at all: one that cannot would be refused on every request. */
export function isBearerToken(value: string): boolean {
  return TOKEN.test(value);
}

/**
 * Compares two secrets in time independent of where they differ. Hashing first
 * gives equal-length inputs, so the length of the expected secret leaks neither.
 */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

/**
 * What a service keeps of a full-entropy secret it issued (a callback token,
 * an operator key): its SHA-256, in hex. A fast hash is enough: with 256
 * random bits there is nothing to brute-force that a slow hash would protect,
 * and looking a hash up by equality tells nothing about the secret.
 */
export function hashSecret(secret: string): string {
  return sha256(secret).toString('hex');
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
