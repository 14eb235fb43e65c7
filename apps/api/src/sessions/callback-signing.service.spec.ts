import fc from 'fast-check';
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { ApiConfig } from '../config/api-config';
import { CallbackSigning, SIGNATURE_TOLERANCE_SECONDS, verifyStandardWebhook } from './callback-signing.service';

const secretOf = (key: Buffer) => `whsec_${key.toString('base64')}`;

/** What the `standardwebhooks` package says of the same callback: the reference this verifier must agree with. */
function packageVerifies(key: Buffer, body: string, headers: { id: string; timestamp: string; signature: string }): boolean {
  try {
    new Webhook(secretOf(key)).verify(
      body,
      { 'webhook-id': headers.id, 'webhook-timestamp': headers.timestamp, 'webhook-signature': headers.signature },
      { jsonParse: false },
    );
    return true;
  } catch {
    return false;
  }
}

const signed = (key: Buffer, id: string, seconds: number, body: string) =>
  new Webhook(secretOf(key)).sign(id, new Date(seconds * 1000), body);

describe('verifyStandardWebhook', () => {
  const key = randomBytes(32);
  const body = '{"event_id":"e-1","type":"progress","data":{"message":"half way"}}';
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts what the package signs, and refuses another body, id, key or a stale timestamp', () => {
    const at = now();
    const headers = { id: 'e-1', timestamp: String(at), signature: signed(key, 'e-1', at, body) };
    expect(verifyStandardWebhook(key, Buffer.from(body), headers, at)).toBe(true);
    expect(verifyStandardWebhook(key, Buffer.from(body.replace('half', 'all')), headers, at)).toBe(false);
    expect(verifyStandardWebhook(key, Buffer.from(body), { ...headers, id: 'e-2' }, at)).toBe(false);
    expect(verifyStandardWebhook(randomBytes(32), Buffer.from(body), headers, at)).toBe(false);
    expect(verifyStandardWebhook(key, Buffer.from(body), headers, at + SIGNATURE_TOLERANCE_SECONDS + 1)).toBe(false);
    expect(verifyStandardWebhook(key, Buffer.from(body), headers, at - SIGNATURE_TOLERANCE_SECONDS - 1)).toBe(false);
    expect(verifyStandardWebhook(key, Buffer.from(body), headers, at + SIGNATURE_TOLERANCE_SECONDS)).toBe(true);
  });

  it('accepts a valid v1 signature among others (key rotation), and ignores other versions', () => {
    const at = now();
    const valid = signed(key, 'e-1', at, body);
    const other = signed(randomBytes(32), 'e-1', at, body);
    const check = (signature: string) => verifyStandardWebhook(key, Buffer.from(body), { id: 'e-1', timestamp: String(at), signature }, at);
    expect(check(`${other} ${valid}`)).toBe(true);
    expect(check(`${other} v1a,${valid.slice(3)}`)).toBe(false);
    expect(check(valid.replace('v1,', 'v2,'))).toBe(false);
    expect(check('')).toBe(false);
    expect(check('v1')).toBe(false);
  });

  it('refuses a timestamp that is not decimal digits, where the package would read a prefix', () => {
    const at = now();
    const signature = signed(key, 'e-1', at, body);
    for (const timestamp of [`${at}abc`, ` ${at}`, `${at}.0`, `+${at}`, '']) {
      expect(verifyStandardWebhook(key, Buffer.from(body), { id: 'e-1', timestamp, signature }, at)).toBe(false);
    }
  });

  it('agrees with the standardwebhooks package on generated callbacks (property)', () => {
    const signature = fc.oneof(
      fc.constant('valid'),
      fc.constant('other key'),
      fc.constant('other body'),
      fc.constant('valid among others'),
      fc.string({ maxLength: 60 }),
      fc.base64String({ minLength: 44, maxLength: 44 }).map((value) => `v1,${value}`),
    );
    // A whole second away from the tolerance's edges: the package reads the clock itself.
    const offset = fc.oneof(
      fc.integer({ min: -SIGNATURE_TOLERANCE_SECONDS + 2, max: SIGNATURE_TOLERANCE_SECONDS - 2 }),
      fc.integer({ min: SIGNATURE_TOLERANCE_SECONDS + 2, max: 10_000 }).map((far) => (far % 2 === 0 ? far : -far)),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.string({ minLength: 1, maxLength: 40 }).filter((id) => !id.includes(' ')),
        fc.string({ maxLength: 300 }),
        offset,
        signature,
        (keyBytes, id, text, shift, kind) => {
          const ownKey = Buffer.from(keyBytes);
          const at = now() + shift;
          const header =
            kind === 'valid'
              ? signed(ownKey, id, at, text)
              : kind === 'other key'
                ? signed(Buffer.concat([ownKey, Buffer.from([1])]), id, at, text)
                : kind === 'other body'
                  ? signed(ownKey, id, at, `${text}.`)
                  : kind === 'valid among others'
                    ? `v1,${createHmac('sha256', 'x').update(text).digest('base64')} ${signed(ownKey, id, at, text)}`
                    : kind;
          const headers = { id, timestamp: String(at), signature: header };
          expect(verifyStandardWebhook(ownKey, Buffer.from(text), headers, now())).toBe(packageVerifies(ownKey, text, headers));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('CallbackSigning', () => {
  const signing = new CallbackSigning({ callbackSigningKey: 'a server key' } as ApiConfig);

  it('verifies a callback signed with the secret it gives the session, for that session and event only', () => {
    const body = '{"event_id":"e-7"}';
    const at = new Date();
    const headers = {
      'webhook-id': 'e-7',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(signing.secretFor('s-1')).sign('e-7', at, body),
    };
    expect(signing.verifies('s-1', Buffer.from(body), headers, 'e-7')).toBe(true);
    expect(signing.verifies('s-2', Buffer.from(body), headers, 'e-7')).toBe(false);
    expect(signing.verifies('s-1', Buffer.from(body), headers, 'e-8')).toBe(false);
    expect(signing.verifies('s-1', undefined, headers, 'e-7')).toBe(false);
    expect(signing.verifies('s-1', Buffer.from(body), { ...headers, 'webhook-signature': [headers['webhook-signature']] }, 'e-7')).toBe(
      false,
    );
  });
});
