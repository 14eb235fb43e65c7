import fc from 'fast-check';
import type { CallbackAck, CallbackEvent } from '@mosaic/orchestrator-contract';
import { TestApi } from '../../../../test/support/api-app';
import { signatureHeaders } from '../../../../test/support/callback-signature';
import { type SeededSession, progressEvent, seedServicesOf, seedSession } from '../../../../test/support/seed';
import { PrismaService } from '../database/prisma.service';
import { CallbackSigning } from '../sessions/callback-signing.service';

const UNAUTHORIZED = { error: { code: 'unauthorized', message: 'invalid callback token' } };

/** Signed callbacks (Standard Webhooks, docs/contract.md §3) on the real app. */
describe('callback signatures (integration)', () => {
  let api: TestApi;
  let signing: CallbackSigning;

  beforeAll(async () => {
    api = await TestApi.start();
    signing = api.get(CallbackSigning);
  });

  afterAll(async () => {
    await api?.close();
  });

  let sequence = 0;
  const event = (session: SeededSession, fields: Partial<CallbackEvent> = {}) => progressEvent(session, (sequence += 1), fields);

  const send = (session: SeededSession, body: string, headers: Record<string, string> = {}) =>
    api.request<CallbackAck | typeof UNAUTHORIZED>('POST', `/orchestrator/callbacks/${session.id}`, {
      body,
      token: session.token,
      headers,
    });
  const stored = (session: SeededSession) => api.get(PrismaService).orchestratorSessionEvent.count({ where: { sessionId: session.id } });

  it('accepts a callback signed with the session secret over its body', async () => {
    const session = await seedSession(seedServicesOf(api), { signed: true });
    const body = JSON.stringify(event(session));
    const answer = await send(session, body, signatureHeaders(signing.secretFor(session.id), JSON.parse(body).event_id, body));
    expect(answer.status).toBe(202);
    expect(await stored(session)).toBe(1);
  });

  it.each([
    ['unsigned', (_secret: string, _id: string, _body: string) => ({})],
    [
      'signed with another secret',
      (_secret: string, id: string, body: string) => signatureHeaders(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, id, body),
    ],
    ['signed over another body', (secret: string, id: string, body: string) => signatureHeaders(secret, id, body.replace('step', 'stop'))],
    [
      'stamped 6 minutes ago',
      (secret: string, id: string, body: string) => signatureHeaders(secret, id, body, new Date(Date.now() - 6 * 60 * 1000)),
    ],
    [
      'stamped 6 minutes ahead',
      (secret: string, id: string, body: string) => signatureHeaders(secret, id, body, new Date(Date.now() + 6 * 60 * 1000)),
    ],
    [
      'with a webhook-id other than its event_id',
      (secret: string, _id: string, body: string) => signatureHeaders(secret, 'another-event', body),
    ],
  ])('refuses one %s with the uniform 401, storing nothing', async (_case, headersFor) => {
    const session = await seedSession(seedServicesOf(api), { signed: true });
    const body = JSON.stringify(event(session));
    const answer = await send(session, body, headersFor(signing.secretFor(session.id), JSON.parse(body).event_id, body));
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 401, body: UNAUTHORIZED });
    expect(await stored(session)).toBe(0);
  });

  it('refuses an unsigned invalid body of a signed session with 401, not 400', async () => {
    const session = await seedSession(seedServicesOf(api), { signed: true });
    const answer = await send(session, JSON.stringify({ nonsense: true }));
    expect(answer.status).toBe(401);
  });

  it('gives each session its own secret, derived, never stored', async () => {
    const [first, second] = [
      await seedSession(seedServicesOf(api), { signed: true }),
      await seedSession(seedServicesOf(api), { signed: true }),
    ];
    expect(signing.secretFor(first.id)).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(signing.secretFor(first.id)).not.toBe(signing.secretFor(second.id));
    expect(signing.secretFor(first.id)).toBe(signing.secretFor(first.id));
    const stored = await api.get(PrismaService).orchestratorSession.findUniqueOrThrow({ where: { id: first.id } });
    const row = JSON.stringify(stored, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
    expect(row).not.toContain(signing.secretFor(first.id).slice('whsec_'.length));
  });

  it('accepts any valid event correctly signed (property)', async () => {
    const session = await seedSession(seedServicesOf(api), { signed: true });
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', maxLength: 200 }).filter((text) => !text.includes('\u0000')),
        fc.integer({ min: 0, max: 100 }),
        async (message, percent) => {
          const body = JSON.stringify(event(session, { data: { message, percent } }));
          const answer = await send(session, body, signatureHeaders(signing.secretFor(session.id), JSON.parse(body).event_id, body));
          expect(answer.status).toBe(202);
        },
      ),
      { numRuns: 50 },
    );
  });
});
