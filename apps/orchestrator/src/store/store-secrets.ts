import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** The format of a sealed value: `v1.<key id>.<nonce>.<ciphertext and tag>`, base64url parts. */
const FORMAT = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A stored secret that does not open: altered, sealed for another session or field, or under a key this node lacks. */
export class SealedSecretError extends Error {}

interface SealingKey {
  readonly id: string;
  readonly key: Buffer;
}

/** AES-256 key from a configured secret of any text, and an id that tells which key sealed a value without revealing it. */
function sealingKey(secret: string): SealingKey {
  const key = Buffer.from(hkdfSync('sha256', secret, '', 'mosaic orchestrator store secrets', 32));
  return { id: createHmac('sha256', key).update('key id').digest('base64url').slice(0, 8), key };
}

/** Binds a value to where it is kept: a sealed callback token moved to another session, or into another field, does not open. */
function associatedData(sessionId: string, field: string): Buffer {
  return Buffer.from(JSON.stringify([sessionId, field]));
}

/**
 * The secrets a session keeps in the shared store (its callback token and signing
 * secret), sealed with AES-256-GCM under a key only the orchestrators hold: whoever
 * reads the store reads neither. Values sealed under the previous key still open,
 * so that the key can be rotated while sessions run.
 */
export class StoreSecrets {
  private readonly current: SealingKey;
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(key: string, previousKey?: string) {
    this.current = sealingKey(key);
    const readable = previousKey === undefined ? [this.current] : [sealingKey(previousKey), this.current];
    this.keys = new Map(readable.map(({ id, key: bytes }) => [id, bytes]));
  }

  seal(sessionId: string, field: string, value: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
    cipher.setAAD(associatedData(sessionId, field));
    const sealed = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [FORMAT, this.current.id, nonce.toString('base64url'), sealed.toString('base64url')].join('.');
  }

  /**
   * The value `seal` sealed for this session and field; throws SealedSecretError for anything else.
   * A value with no dot was stored in the clear by a node from before sealing (the API's tokens are base64url, its
   * signing secrets base64: neither has one): it is read as it is, so that sessions running across the upgrade keep
   * reporting. Putting such a value in the store gains nothing: the API checks tokens against its hashes and
   * signatures under its own secrets.
   */
  open(sessionId: string, field: string, stored: string): string {
    if (stored !== '' && !stored.includes('.')) return stored;
    const [format, keyId, nonceText, sealedText, ...rest] = stored.split('.');
    const key = keyId === undefined ? undefined : this.keys.get(keyId);
    if (format !== FORMAT || key === undefined || nonceText === undefined || sealedText === undefined || rest.length > 0)
      throw new SealedSecretError(`the ${field} of session ${sessionId} is not sealed under a key this node holds`);
    const nonce = Buffer.from(nonceText, 'base64url');
    const sealed = Buffer.from(sealedText, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(sessionId, field));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SealedSecretError(`the ${field} of session ${sessionId} does not open: it was altered or sealed for another session`);
    }
  }
}
