import { hashSecret } from '@mosaic/http-kit';
import { ApiConfig } from '../config/api-config';
import { CallbackTokenService } from './callback-token.service';

describe('CallbackTokenService', () => {
  const config = ApiConfig.fromEnvironment({ CALLBACK_TOKEN_TTL_MS: '60000', CALLBACK_TOKEN_TERMINAL_GRACE_MS: '5000' });
  const service = new CallbackTokenService(config);
  const now = new Date('2026-01-01T00:00:00.000Z');
  const later = (ms: number) => new Date(now.getTime() + ms);

  it('issues 256-bit random tokens and keeps only their hash', () => {
    const a = service.issue(now);
    const b = service.issue(now);
    expect(a.token).not.toBe(b.token);
    expect(Buffer.from(a.token.slice(4), 'base64url')).toHaveLength(32);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash).not.toContain(a.token);
    expect(a.expiresAt).toEqual(later(60000));
  });

  it('keeps a token valid until it expires, and for the grace period after its session ended', () => {
    expect(service.validityAt(later(1000))).toEqual({ expiresAfter: later(1000), endedAfter: later(1000 - 5000) });
  });

  it('hashes the same token to the same hash, and another token to another', () => {
    const issued = service.issue(now);
    expect(hashSecret(issued.token)).toBe(issued.hash);
    expect(hashSecret(`${issued.token}x`)).not.toBe(issued.hash);
  });
});
