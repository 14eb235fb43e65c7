import { SealedSecretError, StoreSecrets } from './store-secrets';

describe('StoreSecrets', () => {
  const secrets = new StoreSecrets('the-current-key');

  it('seals a value so that it opens only for the same session and field', () => {
    const sealed = secrets.seal('session-1', 'token', 'callback-token');

    expect(sealed).not.toContain('callback-token');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(secrets.open('session-1', 'token', sealed)).toBe('callback-token');
    expect(() => secrets.open('session-2', 'token', sealed)).toThrow(SealedSecretError);
    expect(() => secrets.open('session-1', 'signingSecret', sealed)).toThrow(SealedSecretError);
  });

  it('seals the same value differently each time (a fresh nonce)', () => {
    expect(secrets.seal('s', 'token', 'same')).not.toBe(secrets.seal('s', 'token', 'same'));
  });

  it('refuses an altered value, an empty one, and one sealed under a key it does not hold', () => {
    const sealed = secrets.seal('s', 'token', 'callback-token');
    const [format, keyId, nonce, body] = sealed.split('.') as [string, string, string, string];
    const flipped = `${body.slice(0, 2)}${body[2] === 'A' ? 'B' : 'A'}${body.slice(3)}`;

    for (const bad of [
      [format, keyId, nonce, flipped].join('.'),
      [format, keyId, nonce].join('.'),
      '',
      new StoreSecrets('another-key').seal('s', 'token', 'x'),
    ]) {
      expect(() => secrets.open('s', 'token', bad)).toThrow(SealedSecretError);
    }
  });

  it('reads a value stored in the clear before sealing (base64url, no dot) as it is', () => {
    expect(secrets.open('s', 'token', 'mosaic_cb_9aZ-_x')).toBe('mosaic_cb_9aZ-_x');
  });

  it('opens what the previous key sealed, and seals under the new one only', () => {
    const before = new StoreSecrets('old-key');
    const rotated = new StoreSecrets('new-key', 'old-key');
    const sealedBefore = before.seal('s', 'token', 'old-token');
    const sealedAfter = rotated.seal('s', 'token', 'new-token');

    expect(rotated.open('s', 'token', sealedBefore)).toBe('old-token');
    expect(new StoreSecrets('new-key').open('s', 'token', sealedAfter)).toBe('new-token');
    expect(() => before.open('s', 'token', sealedAfter)).toThrow(SealedSecretError);
  });
});
