import { Injectable } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isTerminalStatus, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
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

/** The state of the session a token was issued for, as far as the token's validity goes. */
export interface TokenHolder {
  readonly status: TrackedSessionStatus;
  readonly endedAt: Date | null;
  readonly callbackTokenHash: string;
  readonly callbackTokenExpiresAt: Date;
}

const TOKEN_PREFIX = 'mcb_';

/**
 * Per-session callback tokens, modelled on per-job CI tokens: 256 random bits,
 * issued for exactly one session (its hash lives on that session's row only),
 * stored as a SHA-256 hash, expiring, and revoked once the session has been
 * terminal for a grace period. A fast hash is enough here: the token has full
 * entropy, so there is nothing to brute-force that a slow hash would protect.
 */
@Injectable()
export class CallbackTokenService {
  constructor(private readonly config: ApiConfig) {}

  issue(now: Date = new Date()): IssuedCallbackToken {
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    return { token, hash: hashToken(token), expiresAt: new Date(now.getTime() + this.config.callbackToken.ttlMs) };
  }

  /** Whether `token` may report for the session `holder` describes, at `now`. Constant-time in the token. */
  accepts(holder: TokenHolder, token: string, now: Date = new Date()): boolean {
    const matches = timingSafeEqual(Buffer.from(hashToken(token), 'hex'), Buffer.from(holder.callbackTokenHash, 'hex'));
    if (!matches) return false;
    if (now.getTime() >= holder.callbackTokenExpiresAt.getTime()) return false;
    if (isTerminalStatus(holder.status) && holder.endedAt !== null) {
      return now.getTime() < holder.endedAt.getTime() + this.config.callbackToken.terminalGraceMs;
    }
    return true;
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
