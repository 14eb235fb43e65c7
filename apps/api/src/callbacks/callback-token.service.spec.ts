import { ApiConfig } from '../config/api-config';
import { CallbackTokenService, type TokenHolder } from './callback-token.service';

describe('CallbackTokenService', () => {
  const config = ApiConfig.fromEnvironment({ CALLBACK_TOKEN_TTL_MS: '60000', CALLBACK_TOKEN_TERMINAL_GRACE_MS: '5000' });
  const service = new CallbackTokenService(config);
  const now = new Date('2026-01-01T00:00:00.000Z');
  const later = (ms: number) => new Date(now.getTime() + ms);

  function holderFor(issued: { hash: string; expiresAt: Date }, overrides: Partial<TokenHolder> = {}): TokenHolder {
    return { status: 'running', endedAt: null, callbackTokenHash: issued.hash, callbackTokenExpiresAt: issued.expiresAt, ...overrides };
  }

  it('issues 256-bit random tokens and keeps only their hash', () => {
    const a = service.issue(now);
    const b = service.issue(now);
    expect(a.token).not.toBe(b.token);
    expect(Buffer.from(a.token.slice(4), 'base64url')).toHaveLength(32);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash).not.toContain(a.token);
    expect(a.expiresAt).toEqual(later(60000));
  });

  it('accepts the token for its own session only', () => {
    const mine = service.issue(now);
    const other = service.issue(now);
    expect(service.accepts(holderFor(mine), mine.token, now)).toBe(true);
    expect(service.accepts(holderFor(mine), other.token, now)).toBe(false);
    expect(service.accepts(holderFor(mine), `${mine.token}x`, now)).toBe(false);
    expect(service.accepts(holderFor(mine), '', now)).toBe(false);
  });

  it('refuses an expired token', () => {
    const issued = service.issue(now);
    expect(service.accepts(holderFor(issued), issued.token, later(59999))).toBe(true);
    expect(service.accepts(holderFor(issued), issued.token, later(60000))).toBe(false);
  });

  it('keeps working for the grace period after a terminal status, then is revoked', () => {
    const issued = service.issue(now);
    const ended = holderFor(issued, { status: 'completed', endedAt: later(1000) });
    expect(service.accepts(ended, issued.token, later(5999))).toBe(true);
    expect(service.accepts(ended, issued.token, later(6000))).toBe(false);
  });
});
