import { Injectable } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { ApiConfig } from '../config/api-config';

/** The Standard Webhooks headers a signed callback carries (contract section 3). */
export interface SignatureHeaders {
  readonly 'webhook-id'?: string | string[] | undefined;
  readonly 'webhook-timestamp'?: string | string[] | undefined;
  readonly 'webhook-signature'?: string | string[] | undefined;
}

/**
 * Per-session callback signing secrets (Standard Webhooks, with the maintained
 * `standardwebhooks` package). Each session's secret is derived from the
 * server key (CALLBACK_SIGNING_KEY) and the session's id by HMAC-SHA256, so it
 * is never stored anywhere, in plain text or otherwise, and any API instance
 * can check a signature without a read: rotating the server key re-keys every
 * session at once (their callbacks are then refused, as after a token expiry).
 * The bearer token stays: the signature adds integrity of the body and a
 * five-minute replay window, not a scope.
 */
@Injectable()
export class CallbackSigning {
  constructor(private readonly config: ApiConfig) {}

  /** `whsec_` and the base64 of 32 bytes, sent once, in the spawn body. */
  secretFor(sessionId: string): string {
    const key = createHmac('sha256', this.config.callbackSigningKey).update(`callback-signing:${sessionId}`).digest();
    return `whsec_${key.toString('base64')}`;
  }

  /**
   * Whether `body` carries a valid signature of the session's secret, made
   * within five minutes of now (the package's tolerance), with `webhook-id`
   * equal to the event's id, so a signed body cannot be replayed as another event.
   */
  verifies(sessionId: string, body: Buffer | undefined, headers: SignatureHeaders, eventId: unknown): boolean {
    const id = headers['webhook-id'];
    const timestamp = headers['webhook-timestamp'];
    const signature = headers['webhook-signature'];
    if (body === undefined || typeof id !== 'string' || typeof timestamp !== 'string' || typeof signature !== 'string' || id !== eventId) return false;
    try {
      new Webhook(this.secretFor(sessionId)).verify(body, { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature }, { jsonParse: false });
      return true;
    } catch {
      return false;
    }
  }
}
