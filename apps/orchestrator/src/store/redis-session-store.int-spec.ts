import { callbackEventSchema, SESSION_STATUSES, type TaskPriority } from '@mosaic/orchestrator-contract';
import { parseTraceparent } from '@mosaic/observability';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisSessionStore } from './redis-session-store';
import { TEST_STORE_SECRETS, describeSessionStoreBehaviour } from './session-store.behaviour';
import { IdempotencyKeyReusedError, InvalidCursorError, QueueFullError, type NewSession, type StoredSession } from './session-store';

// Set by the Jest global setup when a Redis answers (CI starts one); without it these tests are skipped, and say so.
const REDIS_URL = process.env.TEST_REDIS_URL ?? '';
const RUN_PREFIX = `mosaic-test:${randomBytes(6).toString('hex')}:`;
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const UNLIMITED = 1_000_000;

let namespaces = 0;
const opened: RedisSessionStore[] = [];

/** `count` stores on one fresh prefix: the nodes of one cluster. */
async function cluster(count: number, prefix = `${RUN_PREFIX}${namespaces++}:`): Promise<RedisSessionStore[]> {
  const stores = await Promise.all(
    Array.from({ length: count }, () => RedisSessionStore.connect({ url: REDIS_URL, prefix, secrets: TEST_STORE_SECRETS })),
  );
  opened.push(...stores);
  return stores;
}

async function oneStore(): Promise<RedisSessionStore> {
  const [store] = await cluster(1);
  return store as RedisSessionStore;
}

function newSession(overrides: Partial<NewSession> = {}): NewSession {
  const id = randomUUID();
  return {
    id,
    priority: 'normal',
    callback: { url: 'http://api.test/callbacks', token: 'token', origin: { requestId: `req-${id}`, trace: ROOT_CONTEXT } },
    taskJson: JSON.stringify({ session_id: id, task: 'do it', context: {} }),
    ...overrides,
  };
}

async function created(store: RedisSessionStore, overrides: Partial<NewSession> = {}): Promise<StoredSession> {
  return (await store.create(newSession(overrides), UNLIMITED)).session;
}

/** A Context holds closures, so two equal traces compare equal by their span context only. */
function comparable(session: StoredSession | undefined) {
  return (
    session && {
      ...session,
      callback: { ...session.callback, origin: { ...session.callback.origin, trace: trace.getSpanContext(session.callback.origin.trace) } },
    }
  );
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

(REDIS_URL ? describe : describe.skip)(`on Redis (${REDIS_URL || 'none answered: TEST_REDIS_URL unset'})`, () => {
  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    for await (const keys of redis.scanStream({ match: `${RUN_PREFIX}*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
    await redis.quit();
  });

  describe('RedisSessionStore', () => {
    describe('create and get', () => {
      it('creates a pending session that get returns with every field as given', async () => {
        const store = await oneStore();
        const parent = parseTraceparent(TRACEPARENT);
        if (parent === undefined) throw new Error('bad test traceparent');
        const input = newSession({
          priority: 'high',
          callback: {
            url: 'http://api.test/cb',
            token: 'secret-token',
            signingSecret: 'whsec_abc',
            origin: { requestId: 'req-1', trace: trace.setSpanContext(ROOT_CONTEXT, parent) },
          },
        });
        const before = Date.now();
        const result = await store.create(input, UNLIMITED);

        expect(result.created).toBe(true);
        expect(result.session).toMatchObject({ id: input.id, status: 'pending', priority: 'high', taskJson: input.taskJson });
        expect(result.session.callback).toMatchObject({ url: 'http://api.test/cb', token: 'secret-token', signingSecret: 'whsec_abc' });
        expect(result.session.callback.origin.requestId).toBe('req-1');
        expect(trace.getSpanContext(result.session.callback.origin.trace)).toMatchObject({
          traceId: parent.traceId,
          spanId: parent.spanId,
        });
        expect(Math.abs(result.session.createdAt.getTime() - before)).toBeLessThan(5_000);
        for (const absent of ['startedAt', 'endedAt', 'exitCode', 'error', 'node', 'idempotencyKey'] as const) {
          expect(result.session[absent]).toBeUndefined();
        }
        expect(comparable(await store.get(input.id))).toEqual(comparable(result.session));
      });

      it('keeps a callback without signing secret or trace without them', async () => {
        const store = await oneStore();
        const session = await created(store);
        expect('signingSecret' in session.callback).toBe(false);
        expect(trace.getSpanContext(session.callback.origin.trace)).toBeUndefined();
      });

      it('returns undefined for a session it does not have', async () => {
        const store = await oneStore();
        expect(await store.get('nobody')).toBeUndefined();
      });

      it('refuses a second session with the same id', async () => {
        const store = await oneStore();
        const first = await created(store);
        await expect(store.create(newSession({ id: first.id }), UNLIMITED)).rejects.toThrow(/exists/);
      });
    });

    describe('idempotency keys', () => {
      it('returns the first session (created: false) for the same key and fingerprint', async () => {
        const store = await oneStore();
        const idempotency = { key: 'key-1', fingerprint: 'fp-1' };
        const first = await store.create(newSession({ idempotency }), UNLIMITED);
        const second = await store.create(newSession({ idempotency }), UNLIMITED);

        expect(first.created).toBe(true);
        expect(first.session.idempotencyKey).toBe('key-1');
        expect(second).toEqual({ session: first.session, created: false });
        expect(await store.countPending()).toBe(1);
        expect(await store.withIdempotencyKey('key-1')).toEqual(first.session);
      });

      it('throws IdempotencyKeyReusedError for the same key with another fingerprint, writing nothing', async () => {
        const store = await oneStore();
        await store.create(newSession({ idempotency: { key: 'key-1', fingerprint: 'fp-1' } }), UNLIMITED);
        const other = newSession({ idempotency: { key: 'key-1', fingerprint: 'fp-2' } });

        await expect(store.create(other, UNLIMITED)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
        expect(await store.get(other.id)).toBeUndefined();
        expect(await store.countPending()).toBe(1);
      });

      it('returns undefined for a key that names no session', async () => {
        const store = await oneStore();
        expect(await store.withIdempotencyKey('unknown')).toBeUndefined();
      });

      it('creates one session when nodes race with one key', async () => {
        const nodes = await cluster(4);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, index) =>
            (nodes[index % nodes.length] as RedisSessionStore).create(
              newSession({ idempotency: { key: 'raced', fingerprint: 'fp' } }),
              UNLIMITED,
            ),
          ),
        );

        expect(results.filter((result) => result.created)).toHaveLength(1);
        expect(new Set(results.map((result) => result.session.id)).size).toBe(1);
        expect(await nodes[0]?.countPending()).toBe(1);
      });
    });

    describe('maxPending', () => {
      it('throws QueueFullError, writing nothing, when maxPending sessions are pending', async () => {
        const store = await oneStore();
        await store.create(newSession(), 2);
        await store.create(newSession(), 2);
        const third = newSession();

        const error = await store.create(third, 2).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(QueueFullError);
        expect((error as QueueFullError).maxQueued).toBe(2);
        expect(await store.get(third.id)).toBeUndefined();
        expect(await store.countPending()).toBe(2);
      });

      it('counts only pending sessions', async () => {
        const store = await oneStore();
        const first = await store.create(newSession(), 1);
        await store.claim(first.session.id, 'node-a');
        expect((await store.create(newSession(), 1)).created).toBe(true);
      });

      it('takes Infinity as no limit', async () => {
        const store = await oneStore();
        await store.create(newSession(), Infinity);
        expect((await store.create(newSession(), Infinity)).created).toBe(true);
      });

      it('returns the session of a repeated key even when the queue is full', async () => {
        const store = await oneStore();
        const idempotency = { key: 'full', fingerprint: 'fp' };
        const first = await store.create(newSession({ idempotency }), 1);
        expect(await store.create(newSession({ idempotency }), 1)).toEqual({ session: first.session, created: false });
      });

      it('admits exactly maxPending sessions when nodes race', async () => {
        const nodes = await cluster(4);
        const outcomes = await Promise.allSettled(
          Array.from({ length: 30 }, (_, index) => (nodes[index % nodes.length] as RedisSessionStore).create(newSession(), 10)),
        );

        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(10);
        const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
        expect(refused).toHaveLength(20);
        for (const outcome of refused) expect(outcome.reason).toBeInstanceOf(QueueFullError);
        expect(await nodes[0]?.countPending()).toBe(10);
      });
    });

    describe('list', () => {
      it('lists newest first, filters by status and pages with a cursor', async () => {
        const store = await oneStore();
        const sessions: StoredSession[] = [];
        for (let index = 0; index < 5; index++) sessions.push(await created(store));
        await store.claim(sessions[1]?.id ?? '', 'node-a');
        await store.claim(sessions[3]?.id ?? '', 'node-a');
        const ids = sessions.map((session) => session.id).reverse();

        const first = await store.list({ limit: 3 });
        expect(first.sessions.map((session) => session.id)).toEqual(ids.slice(0, 3));
        expect(first.nextCursor).not.toBeNull();
        const second = await store.list({ limit: 3, cursor: first.nextCursor ?? '' });
        expect(second.sessions.map((session) => session.id)).toEqual(ids.slice(3));
        expect(second.nextCursor).toBeNull();

        const running = await store.list({ status: 'running', limit: 10 });
        expect(running.sessions.map((session) => session.id)).toEqual([sessions[3]?.id, sessions[1]?.id]);
        expect(running.sessions.every((session) => session.status === 'running')).toBe(true);
        expect(running.nextCursor).toBeNull();
        expect((await store.list({ status: 'failed', limit: 10 })).sessions).toEqual([]);
      });

      it('gives no cursor when the page holds exactly the rest', async () => {
        const store = await oneStore();
        for (let index = 0; index < 3; index++) await created(store);
        expect((await store.list({ limit: 3 })).nextCursor).toBeNull();
      });

      it('visits each of 120 sessions once, paging by 7 on alternating nodes while new ones are created', async () => {
        const nodes = await cluster(2);
        const [a, b] = nodes as [RedisSessionStore, RedisSessionStore];
        const original: string[] = [];
        for (let index = 0; index < 120; index++) original.push((await created(a)).id);

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await (pages % 2 === 0 ? a : b).list({ limit: 7, ...(cursor !== undefined && { cursor }) });
          seen.push(...page.sessions.map((session) => session.id));
          await created(pages % 2 === 0 ? b : a);
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor !== undefined);

        expect(seen).toEqual([...original].reverse());
        expect(pages).toBe(Math.ceil(120 / 7));
      });

      it('refuses a cursor it did not issue', async () => {
        const [store, other] = [await oneStore(), await oneStore()];
        for (let index = 0; index < 3; index++) {
          await created(store);
          await created(other);
        }
        const issued = (await store.list({ limit: 1 })).nextCursor ?? '';
        const foreign = (await other.list({ limit: 1 })).nextCursor ?? '';
        const [seq, signature] = issued.split('.') as [string, string];

        for (const cursor of ['', 'garbage', '12', `${Number(seq) - 1}.${signature}`, `${seq}.${signature.slice(1)}`, foreign]) {
          await expect(store.list({ limit: 1, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
        }
        await expect(store.list({ limit: 1, cursor: issued })).resolves.toMatchObject({ sessions: [expect.anything()] });
      });
    });

    describe('queue', () => {
      it('places pending sessions by priority, then creation order', async () => {
        const store = await oneStore();
        const priorities: TaskPriority[] = ['low', 'normal', 'urgent', 'high', 'normal', 'urgent', 'low'];
        const sessions: StoredSession[] = [];
        for (const priority of priorities) sessions.push(await created(store, { priority }));
        const id = (index: number): string => sessions[index]?.id ?? '';

        const positions = await store.queuePositions([...sessions.map((session) => session.id), 'unknown']);
        expect(positions).toEqual(
          new Map([
            [id(2), 1],
            [id(5), 2],
            [id(3), 3],
            [id(1), 4],
            [id(4), 5],
            [id(0), 6],
            [id(6), 7],
          ]),
        );

        await store.claim(id(2), 'node-a');
        await store.finish(id(3), { status: 'cancelled' });
        expect(await store.queuePositions([id(2), id(3), id(5), id(6)])).toEqual(
          new Map([
            [id(5), 1],
            [id(6), 5],
          ]),
        );
        expect(await store.countPending()).toBe(5);
      });

      it('answers an empty list with an empty map', async () => {
        const store = await oneStore();
        expect(await store.queuePositions([])).toEqual(new Map());
      });

      it('counts every status, zeros included', async () => {
        const store = await oneStore();
        expect(await store.countByStatus()).toEqual(Object.fromEntries(SESSION_STATUSES.map((status) => [status, 0])));
        const [a, b] = [await created(store), await created(store)];
        await created(store);
        await store.claim(a.id, 'node-a');
        await store.claim(b.id, 'node-a');
        await store.finish(b.id, { status: 'failed', error: 'boom' });
        expect(await store.countByStatus()).toEqual({ pending: 1, running: 1, completed: 0, failed: 1, killed: 0, cancelled: 0 });
      });
    });

    describe('claim', () => {
      it('moves a pending session to running on the node, started now', async () => {
        const store = await oneStore();
        const session = await created(store);
        const claimed = await store.claim(session.id, 'node-a');

        expect(claimed).toMatchObject({ id: session.id, status: 'running', node: 'node-a' });
        expect(claimed?.startedAt?.getTime()).toBeGreaterThanOrEqual(session.createdAt.getTime());
        expect(await store.get(session.id)).toEqual(claimed);
        expect(await store.countPending()).toBe(0);
      });

      it('returns undefined, changing nothing, for a session that is not pending', async () => {
        const store = await oneStore();
        const session = await created(store);
        const claimed = await store.claim(session.id, 'node-a');

        expect(await store.claim(session.id, 'node-b')).toBeUndefined();
        expect(await store.get(session.id)).toEqual(claimed);
        expect(await store.claim('unknown', 'node-a')).toBeUndefined();
        expect(await store.get('unknown')).toBeUndefined();
      });

      it('lets exactly one of 20 racing claims win', async () => {
        const nodes = await cluster(4);
        const session = await created(nodes[0] as RedisSessionStore);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, index) => (nodes[index % nodes.length] as RedisSessionStore).claim(session.id, `node-${index}`)),
        );

        const winners = results.filter((result) => result !== undefined);
        expect(winners).toHaveLength(1);
        expect(await nodes[1]?.get(session.id)).toEqual(winners[0]);
        expect(await nodes[2]?.runningOn(winners[0]?.node ?? '')).toEqual(winners);
      });
    });

    describe('finish', () => {
      it('ends a running session with its exit code, ended now', async () => {
        const store = await oneStore();
        const session = await created(store);
        const running = await store.claim(session.id, 'node-a');
        const finished = await store.finish(session.id, { status: 'completed', exitCode: 0 });

        expect(finished).toMatchObject({ status: 'completed', exitCode: 0, node: 'node-a', startedAt: running?.startedAt });
        expect(finished?.endedAt?.getTime()).toBeGreaterThanOrEqual(running?.startedAt?.getTime() ?? Infinity);
        expect(finished?.error).toBeUndefined();
        expect(await store.get(session.id)).toEqual(finished);
        expect(await store.runningOn('node-a')).toEqual([]);
      });

      it('ends a pending session, which leaves the queue', async () => {
        const store = await oneStore();
        const session = await created(store);
        const finished = await store.finish(session.id, { status: 'cancelled', error: 'cancelled by the user' });

        expect(finished).toMatchObject({ status: 'cancelled', error: 'cancelled by the user' });
        expect(finished?.startedAt).toBeUndefined();
        expect(await store.countPending()).toBe(0);
        expect(await store.queuePositions([session.id])).toEqual(new Map());
      });

      it('keeps an empty error and a negative exit code', async () => {
        const store = await oneStore();
        const session = await created(store);
        expect(await store.finish(session.id, { status: 'failed', exitCode: -1, error: '' })).toMatchObject({ exitCode: -1, error: '' });
      });

      it('returns undefined, changing nothing, when the session is already terminal', async () => {
        const store = await oneStore();
        const session = await created(store);
        const finished = await store.finish(session.id, { status: 'killed' });

        expect(await store.finish(session.id, { status: 'completed', exitCode: 0 })).toBeUndefined();
        expect(await store.finish(session.id, { status: 'failed' }, ['killed'])).toBeUndefined();
        expect(await store.get(session.id)).toEqual(finished);
        expect(await store.finish('unknown', { status: 'failed' })).toBeUndefined();
      });

      it('returns undefined, changing nothing, when the status is not among `from`', async () => {
        const store = await oneStore();
        const session = await created(store);

        expect(await store.finish(session.id, { status: 'failed' }, ['running'])).toBeUndefined();
        expect(await store.finish(session.id, { status: 'failed' }, [])).toBeUndefined();
        expect(await store.get(session.id)).toEqual(session);
        expect(await store.finish(session.id, { status: 'cancelled' }, ['pending'])).toMatchObject({ status: 'cancelled' });
      });

      it('lets exactly one of racing finishes win', async () => {
        const nodes = await cluster(4);
        const session = await created(nodes[0] as RedisSessionStore);
        await nodes[0]?.claim(session.id, 'node-a');
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, index) =>
            (nodes[index % nodes.length] as RedisSessionStore).finish(session.id, { status: index % 2 === 0 ? 'killed' : 'completed' }, [
              'running',
            ]),
          ),
        );

        const winners = results.filter((result) => result !== undefined);
        expect(winners).toHaveLength(1);
        expect(await nodes[3]?.get(session.id)).toEqual(winners[0]);
        const counts = await nodes[1]?.countByStatus();
        expect((counts?.killed ?? 0) + (counts?.completed ?? 0)).toBe(1);
        expect(counts?.running).toBe(0);
      });
    });

    describe('runningOn', () => {
      it('returns the sessions running on the node only', async () => {
        const store = await oneStore();
        const [a, b, c] = [await created(store), await created(store), await created(store)];
        await store.claim(a.id, 'node-a');
        await store.claim(b.id, 'node-b');
        await store.claim(c.id, 'node-a');
        await store.finish(c.id, { status: 'completed' });

        expect((await store.runningOn('node-a')).map((session) => session.id)).toEqual([a.id]);
        expect((await store.runningOn('node-b')).map((session) => session.id)).toEqual([b.id]);
        expect(await store.runningOn('node-c')).toEqual([]);
      });
    });

    describe('forgetEndedBefore', () => {
      it('deletes sessions ended before the cutoff with their keys and events, and counts them', async () => {
        const store = await oneStore();
        const old = await created(store, { idempotency: { key: 'old-key', fingerprint: 'fp' } });
        const oldToo = await created(store);
        await store.appendEvent(old.id, { type: 'progress', data: { message: 'half' } });
        const oldEnd = await store.finish(old.id, { status: 'completed' });
        await store.claim(oldToo.id, 'node-a');
        await store.finish(oldToo.id, { status: 'failed' });
        await sleep(5);
        const recent = await created(store);
        const recentEnd = await store.finish(recent.id, { status: 'killed' });
        const running = await created(store);
        await store.claim(running.id, 'node-a');
        const pending = await created(store);
        const cutoff = new Date(recentEnd?.endedAt?.getTime() ?? 0);
        expect(cutoff.getTime()).toBeGreaterThan(oldEnd?.endedAt?.getTime() ?? Infinity);

        expect(await store.forgetEndedBefore(cutoff)).toBe(2);

        expect(await store.get(old.id)).toBeUndefined();
        expect(await store.get(oldToo.id)).toBeUndefined();
        expect(await store.withIdempotencyKey('old-key')).toBeUndefined();
        expect(await store.unacknowledgedEvents(old.id)).toEqual([]);
        expect((await store.list({ limit: 10 })).sessions.map((session) => session.id)).toEqual([pending.id, running.id, recent.id]);
        expect(await store.countByStatus()).toEqual({ pending: 1, running: 1, completed: 0, failed: 0, killed: 1, cancelled: 0 });
        expect((await store.create(newSession({ idempotency: { key: 'old-key', fingerprint: 'other' } }), UNLIMITED)).created).toBe(true);
        expect(await store.forgetEndedBefore(cutoff)).toBe(0);
      });

      it('keeps a cursor issued before working after what it named is forgotten', async () => {
        const store = await oneStore();
        const [a, b, c] = [await created(store), await created(store), await created(store)];
        const page = await store.list({ limit: 1 });
        const ended = await store.finish(c.id, { status: 'completed' });
        await store.forgetEndedBefore(new Date((ended?.endedAt?.getTime() ?? 0) + 1));

        const next = await store.list({ limit: 5, cursor: page.nextCursor ?? '' });
        expect(next.sessions.map((session) => session.id)).toEqual([b.id, a.id]);
      });

      it('forgets more sessions than one batch holds', async () => {
        const store = await oneStore();
        const ids = await Promise.all(Array.from({ length: 1_200 }, async () => (await created(store)).id));
        await Promise.all(ids.map((id) => store.finish(id, { status: 'completed' })));
        expect(await store.forgetEndedBefore(new Date(Date.now() + 60_000))).toBe(1_200);
        expect(await store.countByStatus()).toMatchObject({ completed: 0 });
      });
    });

    describe('events', () => {
      it('numbers events from 1 with new ids and the store time, and keeps them until acknowledged', async () => {
        const store = await oneStore();
        const session = await created(store);
        const first = await store.appendEvent(session.id, { type: 'status', status: 'running', data: { node: 'node-a' } });
        const second = await store.appendEvent(session.id, { type: 'log', data: { stream: 'stdout', line: 'hello' } });
        const third = await store.appendEvent(session.id, { type: 'result', status: 'completed', data: { exit_code: 0, summary: 'done' } });

        expect(first).toMatchObject({ session_id: session.id, sequence: 1, type: 'status', status: 'running', data: { node: 'node-a' } });
        expect(second).toMatchObject({ sequence: 2, type: 'log', data: { stream: 'stdout', line: 'hello' } });
        expect(second.status).toBeUndefined();
        expect(third.sequence).toBe(3);
        expect(new Set([first.event_id, second.event_id, third.event_id]).size).toBe(3);
        for (const event of [first, second, third]) expect(callbackEventSchema.parse(event)).toEqual(event);
        expect(Math.abs(Date.parse(first.timestamp) - Date.now())).toBeLessThan(5_000);

        expect(await store.unacknowledgedEvents(session.id)).toEqual([first, second, third]);
        await store.acknowledgeEvent(session.id, second.event_id);
        expect(await store.unacknowledgedEvents(session.id)).toEqual([first, third]);
        await store.acknowledgeEvent(session.id, 'unknown');
        expect(await store.appendEvent(session.id, { type: 'progress', data: { message: 'after' } })).toMatchObject({ sequence: 4 });
      });

      it('gives 50 racing appends the sequences 1 to 50, without gaps', async () => {
        const nodes = await cluster(4);
        const session = await created(nodes[0] as RedisSessionStore);
        const events = await Promise.all(
          Array.from({ length: 50 }, (_, index) =>
            (nodes[index % nodes.length] as RedisSessionStore).appendEvent(session.id, {
              type: 'progress',
              data: { message: `step ${index}` },
            }),
          ),
        );

        expect(events.map((event) => event.sequence).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
        const stored = await nodes[1]?.unacknowledgedEvents(session.id);
        expect(stored?.map((event) => event.sequence)).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
      });

      it('refuses an event for a session it does not have', async () => {
        const store = await oneStore();
        await expect(store.appendEvent('unknown', { type: 'progress', data: { message: 'x' } })).rejects.toThrow(/no session/);
        expect(await store.unacknowledgedEvents('unknown')).toEqual([]);
      });
    });

    describe('a command Redis ran but did not answer, which the client sends again once reconnected', () => {
      type Replayed = 'sessionStoreClaim' | 'sessionStoreFinish' | 'sessionStoreAppendEvent';
      /** ioredis sends again what was in flight when the connection dropped: the script runs twice, with the same arguments. */
      function sentTwice(store: RedisSessionStore, command: Replayed): void {
        const redis = (store as unknown as { redis: Redis }).redis;
        const send = (redis[command] as (...args: unknown[]) => Promise<unknown>).bind(redis);
        jest.spyOn(redis, command).mockImplementationOnce((async (...args: unknown[]) => {
          await send(...args);
          return send(...args);
        }) as never);
      }

      it('a claim still wins', async () => {
        const store = await oneStore();
        const session = await created(store);
        sentTwice(store, 'sessionStoreClaim');

        expect(await store.claim(session.id, 'node-a')).toMatchObject({ status: 'running', node: 'node-a' });
        expect(await store.claim(session.id, 'node-a')).toBeUndefined();
      });

      it('a finish still wins', async () => {
        const store = await oneStore();
        const session = await created(store);
        await store.claim(session.id, 'node-a');
        sentTwice(store, 'sessionStoreFinish');

        expect(await store.finish(session.id, { status: 'completed', exitCode: 0 })).toMatchObject({ status: 'completed', exitCode: 0 });
        expect(await store.finish(session.id, { status: 'failed' })).toBeUndefined();
      });

      it('an event is numbered once', async () => {
        const store = await oneStore();
        const session = await created(store);
        sentTwice(store, 'sessionStoreAppendEvent');

        const first = await store.appendEvent(session.id, { type: 'progress', data: { message: 'one' } });
        const second = await store.appendEvent(session.id, { type: 'progress', data: { message: 'two' } });
        expect([first.sequence, second.sequence]).toEqual([1, 2]);
        expect(await store.unacknowledgedEvents(session.id)).toEqual([first, second]);
      });
    });

    describe('nodes', () => {
      const node = (id: string, activeSessions = 0) => ({
        id,
        url: `http://${id}.test:3000`,
        capacity: 4,
        activeSessions,
        signature: `signature-${id}`,
      });

      it('lists nodes whose lease lives, refreshed by renewNode and ended by leaveNode', async () => {
        const store = await oneStore();
        await store.renewNode(node('a'), 60_000);
        await store.renewNode(node('b'), 60_000);
        await store.renewNode(node('a', 3), 60_000);

        const live = await store.liveNodes();
        expect(live.sort((x, y) => x.id.localeCompare(y.id))).toEqual([node('a', 3), node('b')]);
        await store.leaveNode('b');
        expect(await store.liveNodes()).toEqual([node('a', 3)]);
        expect(await store.claimExpiredNodes('a', 0)).toEqual([]);
      });

      it('drops a node whose lease expired from liveNodes and returns it from claimExpiredNodes once', async () => {
        const store = await oneStore();
        await store.renewNode(node('dead'), 1);
        await store.renewNode(node('alive'), 60_000);
        await sleep(10);

        expect(await store.liveNodes()).toEqual([node('alive')]);
        expect(await store.claimExpiredNodes('alive', 0)).toEqual(['dead']);
        expect(await store.claimExpiredNodes('alive', 0)).toEqual([]);
        expect(await store.liveNodes()).toEqual([node('alive')]);
      });

      it('keeps a node alive that renewed before its lease ran out', async () => {
        const store = await oneStore();
        await store.renewNode(node('a'), 50);
        await store.renewNode(node('a'), 60_000);
        await sleep(60);
        expect(await store.claimExpiredNodes('a', 0)).toEqual([]);
        expect(await store.liveNodes()).toEqual([node('a')]);
      });

      it('gives an expired node to exactly one of two racing callers', async () => {
        const [a, b] = (await cluster(2)) as [RedisSessionStore, RedisSessionStore];
        await a.renewNode(node('dead-1'), 1);
        await b.renewNode(node('dead-2'), 1);
        await a.renewNode(node('alive'), 60_000);
        await sleep(10);

        const [fromA, fromB] = await Promise.all([a.claimExpiredNodes('alive', 0), b.claimExpiredNodes('alive', 0)]);
        expect([...fromA, ...fromB].sort()).toEqual(['dead-1', 'dead-2']);
      });
    });
  });

  describeSessionStoreBehaviour('RedisSessionStore', async () => {
    const prefix = `${RUN_PREFIX}${namespaces++}:`;
    const [store] = (await cluster(1, prefix)) as [RedisSessionStore];
    const redis = new Redis(REDIS_URL);
    return {
      store,
      rawSession: async (id) => JSON.stringify(await redis.hgetall(`${prefix}session:${id}`)),
      copyStoredCallback: async (from, to) => {
        await redis.hset(`${prefix}session:${to}`, 'callback', (await redis.hget(`${prefix}session:${from}`, 'callback'))!);
      },
      dispose: async () => void (await redis.quit()),
    };
  });
});
