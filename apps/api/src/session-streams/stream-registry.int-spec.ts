import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CreatedOperatorKey, ErrorBody, OperatorKey } from '@mosaic/orchestrator-contract';
import { OPERATOR_TOKEN, TestApi } from '../../../../test/support/api-app';
import { sampleValue } from '../../../../test/support/metrics-text';
import { type SeededSession, progressEvent, seedServicesOf, seedSession } from '../../../../test/support/seed';
import { type SseConnection, openSse } from '../../../../test/support/sse-client';
import { StreamRegistry } from './stream-registry';

const ADMIN = { authorization: `Bearer ${OPERATOR_TOKEN}` };
const bearer = (key: CreatedOperatorKey) => ({ authorization: `Bearer ${key.key}` });

/** Issue 38, findings 1 and 7: every live stream is capped, lives at most so long, and ends with its revoked key. */
describe('the guard of live streams (integration)', () => {
  const open: SseConnection[] = [];
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });

  async function stream(url: string, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<SseConnection> {
    const connection = await openSse(url, headers, { localAddress });
    open.push(connection);
    return connection;
  }

  async function newKey(api: TestApi): Promise<CreatedOperatorKey> {
    const answer = await api.request<CreatedOperatorKey>('POST', '/operator-keys', {
      body: { name: `streams ${randomUUID()}`, scopes: ['read'] },
    });
    expect(answer.status).toBe(201);
    return answer.body;
  }

  const newSession = (api: TestApi) => seedSession(seedServicesOf(api), { title: 'guarded stream', status: 'running' });

  async function deliver(api: TestApi, session: SeededSession, sequence: number): Promise<void> {
    const answer = await api.request('POST', `/orchestrator/callbacks/${session.id}`, {
      body: progressEvent(session, sequence),
      token: session.token,
    });
    expect(answer.status).toBe(202);
  }

  /** What a refused stream was answered: status, Retry-After and the error body. */
  async function refusal(connection: SseConnection): Promise<{ status: number; retryAfter: string | undefined; body: ErrorBody }> {
    return {
      status: connection.status,
      retryAfter: connection.headers['retry-after'],
      body: JSON.parse(await connection.refusal) as ErrorBody,
    };
  }

  describe('caps per key, per client address and in all', () => {
    let api: TestApi;
    let url: string;

    beforeAll(async () => {
      api = await TestApi.start({ STREAM_MAX_PER_KEY: '2', STREAM_MAX_PER_ADDRESS: '3', STREAM_MAX_TOTAL: '4' });
      url = await api.listen();
    });

    afterAll(async () => {
      await api?.close();
    });

    it('refuses past each cap with Retry-After, over both kinds of stream, counts the refusals, and frees a place when a stream goes', async () => {
      const first = await newKey(api);
      const second = await newKey(api);
      const session = await newSession(api);
      const list = `${url}/orchestrator/events/stream`;
      const events = `${url}/orchestrator/sessions/${session.id}/events/stream`;

      // One key's cap covers both kinds of stream; a refusal for an unknown session gives its place back.
      expect((await stream(list, bearer(first))).status).toBe(200);
      expect((await stream(`${url}/orchestrator/sessions/${randomUUID()}/events/stream`, bearer(first))).status).toBe(404);
      const kept = await stream(events, bearer(first));
      expect(kept.status).toBe(200);
      expect(await refusal(await stream(list, bearer(first)))).toEqual({
        status: 429,
        retryAfter: '5',
        body: { error: { code: 'too_many_streams', message: expect.stringContaining('this operator key holds 2 open streams') } },
      });

      // Another key from the same address meets the address's cap (3).
      expect((await stream(events, bearer(second))).status).toBe(200);
      expect(await refusal(await stream(list, bearer(second)))).toEqual({
        status: 429,
        retryAfter: '5',
        body: { error: { code: 'too_many_streams', message: expect.stringContaining('this client address holds 3 open streams') } },
      });

      // From another address it gets the fourth place, and then nobody gets a fifth.
      expect((await stream(list, bearer(second), '127.0.0.2')).status).toBe(200);
      expect(await refusal(await stream(list, ADMIN, '127.0.0.3'))).toEqual({
        status: 503,
        retryAfter: '5',
        body: { error: { code: 'at_capacity', message: expect.stringContaining('the API holds 4 open streams') } },
      });

      const metrics = (await api.request<string>('GET', '/metrics', { token: null })).body;
      expect(sampleValue(metrics, 'mosaic_event_streams', { kind: 'sessions' })).toBe(2);
      expect(sampleValue(metrics, 'mosaic_event_streams', { kind: 'session_events' })).toBe(2);
      for (const reason of ['per_key', 'per_address', 'total']) {
        expect(sampleValue(metrics, 'mosaic_event_streams_refused_total', { reason })).toBe(1);
      }

      kept.close();
      await kept.ended;
      await expect(eventuallyOpen(list, ADMIN, '127.0.0.3')).resolves.toBe(200);
    });

    /** Opens a stream as soon as a place is free, which the API sees a moment after its client went. */
    async function eventuallyOpen(target: string, headers: Record<string, string>, localAddress: string): Promise<number> {
      for (let attempt = 0; attempt < 50; attempt++) {
        const connection = await stream(target, headers, localAddress);
        if (connection.status === 200) return connection.status;
        await connection.refusal;
        await sleep(100);
      }
      return 0;
    }
  });

  describe('maximum life', () => {
    let api: TestApi;
    let url: string;

    beforeAll(async () => {
      api = await TestApi.start({ STREAM_MAX_LIFE_MS: '700', STREAM_HEARTBEAT_MS: '100' });
      url = await api.listen();
    });

    afterAll(async () => {
      await api?.close();
    });

    it('ends a stream of either kind at its maximum life; a session stream resumes by Last-Event-ID, missing nothing', async () => {
      const session = await newSession(api);
      const events = await stream(`${url}/orchestrator/sessions/${session.id}/events/stream`, ADMIN);
      const list = await stream(`${url}/orchestrator/events/stream`, ADMIN);
      await deliver(api, session, 1);
      await events.waitFor((received) => received.length === 1);
      await Promise.all([events.ended, list.ended]);
      // Stored while no stream was open: the resumed stream sends it, and not what came before.
      await deliver(api, session, 2);
      const resumed = await stream(`${url}/orchestrator/sessions/${session.id}/events/stream`, { ...ADMIN, 'last-event-id': '1' });
      await resumed.waitFor((received) => received.length === 1);
      expect(resumed.events.map((event) => event.id)).toEqual(['2']);

      const metrics = (await api.request<string>('GET', '/metrics', { token: null })).body;
      expect(sampleValue(metrics, 'mosaic_event_streams_ended_total', { kind: 'session_events', how: 'expired' })).toBeGreaterThanOrEqual(
        1,
      );
      expect(sampleValue(metrics, 'mosaic_event_streams_ended_total', { kind: 'sessions', how: 'expired' })).toBeGreaterThanOrEqual(1);
    });
  });

  describe('revoked keys, with two API instances on one database', () => {
    let instanceA: TestApi;
    let instanceB: TestApi;
    let urlA: string;

    beforeAll(async () => {
      instanceA = await TestApi.start({ STREAM_HEARTBEAT_MS: '100' });
      instanceB = await TestApi.start();
      urlA = await instanceA.listen();
    });

    afterAll(async () => {
      await instanceA?.close();
      await instanceB?.close();
    });

    it("ends the streams a key holds on one instance when it is revoked through the other, and no other key's", async () => {
      const revoked = await newKey(instanceB);
      const other = await newKey(instanceB);
      const session = await newSession(instanceA);
      const events = await stream(`${urlA}/orchestrator/sessions/${session.id}/events/stream`, bearer(revoked));
      const list = await stream(`${urlA}/orchestrator/events/stream`, bearer(revoked));
      const othersStream = await stream(`${urlA}/orchestrator/sessions/${session.id}/events/stream`, bearer(other));
      expect([events.status, list.status, othersStream.status]).toEqual([200, 200, 200]);
      await deliver(instanceA, session, 1);
      await events.waitFor((received) => received.length === 1);

      const answer = await instanceB.request<OperatorKey>('DELETE', `/operator-keys/${revoked.id}`);
      expect(answer.status).toBe(200);
      const endedWithin = (connection: SseConnection) =>
        Promise.race([connection.ended.then(() => true), sleep(5_000, false, { ref: false })]);
      expect(await Promise.all([endedWithin(events), endedWithin(list)])).toEqual([true, true]);

      // The other key's stream goes on, and the revoked key cannot open another.
      await deliver(instanceA, session, 2);
      await othersStream.waitFor((received) => received.length === 2);
      expect(events.events).toHaveLength(1);
      expect((await stream(`${urlA}/orchestrator/events/stream`, bearer(revoked))).status).toBe(401);
      const metrics = (await instanceA.request<string>('GET', '/metrics', { token: null })).body;
      expect(sampleValue(metrics, 'mosaic_event_streams_ended_total', { kind: 'session_events', how: 'revoked' })).toBe(1);
    });

    it('ends at once a stream opened after its key was revoked but authenticated before', async () => {
      const late = await newKey(instanceB);
      // The revoke's notification reaches instance A while the key, read a moment before, still authenticates.
      instanceA.get(StreamRegistry).keyRevoked(late.id);
      const connection = await stream(`${urlA}/orchestrator/events/stream`, bearer(late));
      expect(connection.status).toBe(200);
      expect(await Promise.race([connection.ended.then(() => true), sleep(5_000, false, { ref: false })])).toBe(true);
    });
  });
});
