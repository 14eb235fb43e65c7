import { Injectable } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiConfig } from '../config/api-config';

/** The Standard Webhooks headers a signed callback carries (docs/contract.md §3). */
export interface SignatureHeaders {
  readonly 'webhook-id'?: string | string[] | undefined;
  readonly 'webhook-timestamp'?: string | string[] | undefined;
  readonly 'webhook-signature'?: string | string[] | undefined;
}

/** How far a signature's timestamp may be from the API's clock, either way (docs/contract.md §3). */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

/**
 * Per-session callback signing secrets (Standard Webhooks). Each session's
 * secret is derived from the server key (CALLBACK_SIGNING_KEY) and the
 * session's id by HMAC-SHA256, so it is never stored anywhere, in plain text or
 * otherwise, and any API instance can check a signature without a read:
 * rotating the server key re-keys every session at once (their callbacks are
 * then refused, as after a token expiry). The bearer token stays: the
 * signature adds integrity of the body and a five-minute replay window, not a scope.
 */
@Injectable()
export class CallbackSigning {
  constructor(private readonly config: ApiConfig) {}

  /** `whsec_` and the base64 of 32 bytes, sent once, in the spawn body. */
  secretFor(sessionId: string): string {
    return `whsec_${this.keyFor(sessionId).toString('base64')}`;
  }

  /**
   * Whether `body` carries a valid signature of the session's secret, made
   * within five minutes of now, with `webhook-id` equal to the event's id, so a
   * signed body cannot be replayed as another event.
   */
  verifies(sessionId: string, body: Buffer | undefined, headers: SignatureHeaders, eventId: unknown): boolean {
    const id = headers['webhook-id'];
    const timestamp = headers['webhook-timestamp'];
    const signature = headers['webhook-signature'];
    if (body === undefined || typeof id !== 'string' || typeof timestamp !== 'string' || typeof signature !== 'string' || id !== eventId)
      return false;
    return verifyStandardWebhook(this.keyFor(sessionId), body, { id, timestamp, signature }, Math.floor(Date.now() / 1000));
  }

  private keyFor(sessionId: string): Buffer {
    return createHmac('sha256', this.config.callbackSigningKey).update(`callback-signing:${sessionId}`).digest();
  }
}

/**
 * The Standard Webhooks check (what the `standardwebhooks` package's `verify`
 * does, which the orchestrator signs with) on node:crypto: the package hashes in
 * JavaScript, about four times slower, which cost signed callbacks
 * about 5 points of the API's rate (docs/performance.md). Its spec checks this
 * function against the package on generated inputs. Two differences, both
 * stricter: a timestamp must be decimal digits (the package reads `12abc` as
 * 12), and the body is hashed as the bytes that came (the package decodes it as
 * UTF-8 first, so bytes that are not UTF-8 would be signed as U+FFFD).
 */
export function verifyStandardWebhook(
  key: Buffer,
  body: Buffer,
  headers: { id: string; timestamp: string; signature: string },
  nowSeconds: number,
): boolean {
  if (!/^[0-9]{1,15}$/.test(headers.timestamp)) return false;
  const timestamp = Number(headers.timestamp);
  if (Math.abs(nowSeconds - timestamp) > SIGNATURE_TOLERANCE_SECONDS) return false;
  // The package signs the timestamp as it reads it: `0012` is signed as `12`.
  const expected = Buffer.from(createHmac('sha256', key).update(`${headers.id}.${timestamp}.`).update(body).digest('base64'));
  let valid = false;
  for (const entry of headers.signature.split(' ')) {
    const [version, value] = entry.split(',');
    if (version !== 'v1' || value === undefined) continue;
    const given = Buffer.from(value);
    // Every entry is compared, in constant time, so the answer's timing tells nothing of which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
  }
  return valid;
}
