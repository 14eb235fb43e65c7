import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hashSecret } from '@mosaic/http-kit';
import { ApiConfig } from '../config/api-config';

/** What the API keeps of a callback token: never the token itself. */
export interface StoredCallbackToken {
  readonly hash: string;
  readonly expiresAt: Date;
}

export interface IssuedCallbackToken extends StoredCallbackToken {
  /** Handed to the orchestrator once, in the spawn body; not kept anywhere. */
  readonly token: string;
}

/**
 * What a stored token must satisfy to be accepted at one moment: expire after
 * `expiresAfter`, and belong to a session that is not terminal or ended after
 * `endedAfter`. The database checks it in the statement that uses the token.
 */
export interface TokenValidity {
  readonly expiresAfter: Date;
  readonly endedAfter: Date;
}

const TOKEN_PREFIX = 'mcb_';

/**
 * Per-session callback tokens, modelled on per-job CI tokens: 256 random bits,
 * issued for exactly one session (its hash lives on that session's row only),
 * stored as a SHA-256 hash (hashSecret), expiring, and revoked once the
 * session has been terminal for a grace period.
 */
@Injectable()
export class CallbackTokenService {
  constructor(private readonly config: ApiConfig) {}

  issue(now: Date = new Date()): IssuedCallbackToken {
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    return { token, hash: hashSecret(token), expiresAt: new Date(now.getTime() + this.config.callbackToken.ttlMs) };
  }

  /** The validity a token needs at `now`: unexpired, and revoked once its session has been terminal for the grace period. */
  validityAt(now: Date = new Date()): TokenValidity {
    return { expiresAfter: now, endedAfter: new Date(now.getTime() - this.config.callbackToken.terminalGraceMs) };
  }
}
