import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { SESSION_STATUSES, callbackEventSchema, type TaskPriority } from '@mosaic/orchestrator-contract';
import { randomUUID } from 'node:crypto';
import { SealedSecretError, StoreSecrets } from './store-secrets';
import {
  IdempotencyKeyReusedError,
  InvalidCursorError,
  QueueFullError,
  type CallbackTarget,
  type NewSession,
  type SessionStore,
  type StoredSession,
} from './session-store';

export interface OpenedStore {
  store: SessionStore;
  /** What the store's server holds of a session, as text: what anyone who can read that server sees. */
  rawSession(id: string): Promise<string>;
  /** Copies one session's stored callback over another's, as anyone who can write to the store's server could. */
  copyStoredCallback(from: string, to: string): Promise<void>;
  /** Closes the store and removes what it stored. */
  dispose(): Promise<void>;
}

const NO_LIMIT = 1_000_000;

/** The key both stores seal callback secrets under in these tests. */
export const TEST_STORE_SECRETS = new StoreSecrets('session-store-test-key');

const SPAN = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };

function callback(overrides: Partial<CallbackTarget> = {}): CallbackTarget {
  return {
    url: 'http://api.test/orchestrator/callbacks/s',
    token: 'callback-token',
    origin: { requestId: 'request-1', trace: trace.setSpanContext(ROOT_CONTEXT, { ...SPAN, isRemote: false }) },
    ...overrides,
  };
}

function newSession(overrides: Partial<NewSession> = {}): NewSession {
  const id = overrides.id ?? `session-${randomUUID()}`;
  return {
    id,
    priority: 'normal',
    callback: callback(),
    taskJson: JSON.stringify({ session_id: id, task: 'do it', context: {} }),
    ...overrides,
  };
}

/**
 * A session with its trace as the span it names: a trace Context holds closures, which
 * deep equality cannot compare, and the span is all of it the store must keep.
 */
function plain(session: StoredSession | undefined): object | undefined {
  if (session === undefined) return undefined;
  const { trace: context, ...origin } = session.callback.origin;
  return { ...session, callback: { ...session.callback, origin: { ...origin, span: trace.getSpanContext(context) } } };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles every promise and sorts the outcomes, for races where some callers must lose. */
async function outcomes<T>(promises: Promise<T>[]): Promise<{ values: T[]; errors: unknown[] }> {
  const settled = await Promise.allSettled(promises);
  return {
    values: settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
    errors: settled.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : [])),
  };
}

/**
 * What every SessionStore must do, as its doc comments say, with the races of several
 * nodes sharing one store. `open` gives a fresh, empty store for each test; the suite
 * knows nothing of how a store keeps its data, so each implementation runs it as it is.
 */
export function describeSessionStoreBehaviour(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} (SessionStore behaviour)`, () => {
    let opened: OpenedStore;
    let store: SessionStore;

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });

    afterEach(async () => {
      await opened.dispose();
    });

    async function created(overrides: Partial<NewSession> = {}): Promise<StoredSession> {
      return (await store.create(newSession(overrides), NO_LIMIT)).session;
    }

    async function running(node = 'node-a'): Promise<StoredSession> {
      const session = await created();
      return (await store.claim(session.id, node))!;
    }

    describe('create and get', () => {
      it('creates a pending session, dated by the store, that get returns as created', async () => {
        const input = newSession({ priority: 'high', callback: callback({ signingSecret: 'whsec_c2VjcmV0' }) });
        const result = await store.create(input, NO_LIMIT);

        expect(result.created).toBe(true);
        const session = result.session;
        expect(session).toMatchObject({ id: input.id, status: 'pending', priority: 'high', taskJson: input.taskJson });
        expect(session.startedAt).toBeUndefined();
        expect(session.endedAt).toBeUndefined();
        expect(session.node).toBeUndefined();
        expect(session.idempotencyKey).toBeUndefined();
        expect(session.createdAt).toBeInstanceOf(Date);
        expect(Math.abs(session.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
        expect(plain(await store.get(input.id))).toEqual(plain(session));
      });

      it('keeps the callback target, with the trace the callbacks continue', async () => {
        const session = await created({ callback: callback({ signingSecret: 'whsec_c2VjcmV0' }) });
        const stored = (await store.get(session.id))!.callback;

        expect(stored).toMatchObject({
          url: 'http://api.test/orchestrator/callbacks/s',
          token: 'callback-token',
          signingSecret: 'whsec_c2VjcmV0',
        });
        expect(stored.origin.requestId).toBe('request-1');
        expect(trace.getSpanContext(stored.origin.trace)).toMatchObject(SPAN);
      });

      it('keeps an origin without a trace as one without a trace', async () => {
        const session = await created({ callback: callback({ origin: { requestId: 'request-2', trace: ROOT_CONTEXT } }) });
        const stored = (await store.get(session.id))!.callback;

        expect(stored.signingSecret).toBeUndefined();
        expect(stored.origin.requestId).toBe('request-2');
        expect(trace.getSpanContext(stored.origin.trace)).toBeUndefined();
      });

      it('keeps neither the callback token nor the signing secret where the store can be read', async () => {
        const token = `token-${randomUUID()}`;
        const signingSecret = `whsec_${Buffer.from(randomUUID()).toString('base64')}`;
        const session = await created({ callback: callback({ token, signingSecret }) });

        const raw = await opened.rawSession(session.id);
        expect(raw).toContain(session.id);
        expect(raw).not.toContain(token);
        expect(raw).not.toContain(signingSecret);
        expect(raw).not.toContain(signingSecret.slice('whsec_'.length));
        expect((await store.get(session.id))!.callback).toMatchObject({ token, signingSecret });
      });

      it("refuses a stored callback moved to another session: the victim's token does not open there", async () => {
        const victim = await created({ callback: callback({ token: 'victim-token', signingSecret: 'whsec_dmljdGlt' }) });
        const attacker = await created();

        await opened.copyStoredCallback(victim.id, attacker.id);

        await expect(store.get(attacker.id)).rejects.toThrow(SealedSecretError);
        expect((await store.get(victim.id))!.callback.token).toBe('victim-token');
      });

      it('returns undefined for a session it does not have', async () => {
        expect(await store.get('no-such-session')).toBeUndefined();
      });

      it("returns undefined for an id or a key no session can have (a NUL, an unpaired surrogate): a hostile request's, not a fault", async () => {
        const { session } = await store.create(newSession({ idempotency: { key: 'key-1', fingerprint: 'body-1' } }), NO_LIMIT);

        for (const text of [`${session.id}\u0000`, '\u0000', 'key-1\u0000', `${session.id}\uD800`]) {
          expect(await store.get(text)).toBeUndefined();
          expect(await store.withIdempotencyKey(text)).toBeUndefined();
        }
      });

      it('refuses, writing nothing, when maxPending sessions are pending', async () => {
        await created();
        await created();
        const refused = newSession();

        const error: unknown = await store.create(refused, 2).catch((reason: unknown) => reason);
        expect(error).toBeInstanceOf(QueueFullError);
        expect((error as QueueFullError).maxQueued).toBe(2);
        expect(await store.get(refused.id)).toBeUndefined();
        expect(await store.countPending()).toBe(2);
      });

      it('counts only pending sessions against maxPending', async () => {
        await running();
        const finished = await running();
        await store.finish(finished.id, { status: 'completed' });
        await created();

        expect((await store.create(newSession(), 2)).created).toBe(true);
      });

      it('lets exactly maxPending of many concurrent creates in', async () => {
        const attempts = Array.from({ length: 30 }, () => newSession());
        const { values, errors } = await outcomes(attempts.map((session) => store.create(session, 10)));

        expect(values).toHaveLength(10);
        expect(errors).toHaveLength(20);
        for (const error of errors) expect(error).toBeInstanceOf(QueueFullError);
        expect(await store.countPending()).toBe(10);
        expect((await store.list({ limit: 100 })).sessions.map((session) => session.id).sort()).toEqual(
          values.map((value) => value.session.id).sort(),
        );
      });
    });

    describe('idempotency keys', () => {
      const idempotency = { key: 'key-1', fingerprint: 'body-1' };

      it('returns the session a key names when the fingerprint matches, creating nothing', async () => {
        const first = await store.create(newSession({ idempotency }), NO_LIMIT);
        const second = await store.create(newSession({ idempotency }), NO_LIMIT);

        expect(first.created).toBe(true);
        expect(first.session.idempotencyKey).toBe('key-1');
        expect(second.created).toBe(false);
        expect(plain(second.session)).toEqual(plain(first.session));
        expect(await store.countPending()).toBe(1);
      });

      it('returns the session a key names even once it left the queue', async () => {
        const first = await store.create(newSession({ idempotency }), NO_LIMIT);
        const claimed = await store.claim(first.session.id, 'node-a');

        const again = await store.create(newSession({ idempotency }), NO_LIMIT);
        expect(again.created).toBe(false);
        expect(plain(again.session)).toEqual(plain(claimed));
      });

      it('refuses a key reused with another fingerprint, writing nothing', async () => {
        await store.create(newSession({ idempotency }), NO_LIMIT);
        const reuse = newSession({ idempotency: { key: 'key-1', fingerprint: 'body-2' } });

        await expect(store.create(reuse, NO_LIMIT)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
        expect(await store.get(reuse.id)).toBeUndefined();
        expect(await store.countPending()).toBe(1);
      });

      it('answers a repeated request with its session even when the queue is full', async () => {
        const first = await store.create(newSession({ idempotency }), 1);

        const again = await store.create(newSession({ idempotency }), 1);
        expect(again.created).toBe(false);
        expect(plain(again.session)).toEqual(plain(first.session));
        await expect(store.create(newSession({ idempotency: { key: 'key-1', fingerprint: 'body-2' } }), 1)).rejects.toBeInstanceOf(
          IdempotencyKeyReusedError,
        );
      });

      it('creates one session for many concurrent creates with one key', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.create(newSession({ idempotency }), NO_LIMIT)));

        expect(results.filter((result) => result.created)).toHaveLength(1);
        expect(new Set(results.map((result) => result.session.id)).size).toBe(1);
        expect(await store.countPending()).toBe(1);
      });

      it('finds a session by its key, and nothing by a key it does not know', async () => {
        const { session } = await store.create(newSession({ idempotency }), NO_LIMIT);

        expect(plain(await store.withIdempotencyKey('key-1'))).toEqual(plain(session));
        expect(await store.withIdempotencyKey('key-2')).toBeUndefined();
        expect(await created()).not.toHaveProperty('idempotencyKey');
      });
    });

    describe('list', () => {
      it('lists newest first, a page at a time, and says when there is no next page', async () => {
        const ids: string[] = [];
        for (let index = 0; index < 5; index += 1) ids.push((await created()).id);

        const first = await store.list({ limit: 3 });
        expect(first.sessions.map((session) => session.id)).toEqual([ids[4], ids[3], ids[2]]);
        expect(first.nextCursor).toEqual(expect.any(String));

        const second = await store.list({ limit: 3, cursor: first.nextCursor! });
        expect(second.sessions.map((session) => session.id)).toEqual([ids[1], ids[0]]);
        expect(second.nextCursor).toBeNull();
      });

      it('gives no cursor when the page holds the last session', async () => {
        await created();
        await created();

        expect((await store.list({ limit: 2 })).nextCursor).toBeNull();
        expect((await store.list({ limit: 5 })).nextCursor).toBeNull();
      });

      it('gives an empty page for an empty store', async () => {
        expect(await store.list({ limit: 10 })).toEqual({ sessions: [], nextCursor: null });
      });

      it('visits each of 120 sessions once, in order, while newer ones are created', async () => {
        const original: string[] = [];
        for (let index = 0; index < 120; index += 1) original.push((await created()).id);

        const visited: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.list({ limit: 7, ...(cursor === undefined ? {} : { cursor }) });
          visited.push(...page.sessions.map((session) => session.id));
          cursor = page.nextCursor ?? undefined;
          pages += 1;
          // Sessions created between pages are newer than every cursor handed out.
          await Promise.all([created(), created()]);
        } while (cursor !== undefined);

        expect(pages).toBe(Math.ceil(120 / 7));
        expect(visited).toEqual([...original].reverse());
      });

      it('filters by status, across pages', async () => {
        const pending: string[] = [];
        for (let index = 0; index < 6; index += 1) {
          pending.push((await created()).id);
          await running();
        }

        const first = await store.list({ status: 'pending', limit: 4 });
        const second = await store.list({ status: 'pending', limit: 4, cursor: first.nextCursor! });

        expect([...first.sessions, ...second.sessions].map((session) => session.id)).toEqual([...pending].reverse());
        expect(second.nextCursor).toBeNull();
        for (const session of (await store.list({ status: 'running', limit: 100 })).sessions) expect(session.status).toBe('running');
        expect((await store.list({ status: 'failed', limit: 100 })).sessions).toEqual([]);
      });

      it('refuses a cursor it did not issue', async () => {
        for (let index = 0; index < 3; index += 1) await created();
        const cursor = (await store.list({ limit: 1 })).nextCursor!;
        const middle = Math.floor(cursor.length / 2);
        const tampered = cursor.slice(0, middle) + (cursor[middle] === 'A' ? 'B' : 'A') + cursor.slice(middle + 1);

        for (const bad of ['', 'not a cursor', '1', tampered, `x${cursor}`]) {
          await expect(store.list({ limit: 1, cursor: bad })).rejects.toBeInstanceOf(InvalidCursorError);
        }
      });

      it("refuses another store's cursor", async () => {
        const other = await open();
        try {
          for (let index = 0; index < 3; index += 1) {
            await created();
            await other.store.create(newSession(), NO_LIMIT);
          }
          const foreign = (await other.store.list({ limit: 1 })).nextCursor!;

          await expect(store.list({ limit: 1, cursor: foreign })).rejects.toBeInstanceOf(InvalidCursorError);
        } finally {
          await other.dispose();
        }
      });
    });

    describe('queue and counts', () => {
      it('places pending sessions by priority, then creation order', async () => {
        const priorities: TaskPriority[] = ['low', 'normal', 'urgent', 'high', 'normal', 'urgent', 'low', 'high'];
        const ids: string[] = [];
        for (const priority of priorities) ids.push((await created({ priority })).id);

        const positions = await store.queuePositions(ids);

        // urgent: 2, 5; high: 3, 7; normal: 1, 4; low: 0, 6
        expect(Object.fromEntries(positions)).toEqual({
          [ids[2]!]: 1,
          [ids[5]!]: 2,
          [ids[3]!]: 3,
          [ids[7]!]: 4,
          [ids[1]!]: 5,
          [ids[4]!]: 6,
          [ids[0]!]: 7,
          [ids[6]!]: 8,
        });
      });

      it('places only the asked ids that are pending, counting every pending session', async () => {
        const urgent = await created({ priority: 'urgent' });
        const low = await created({ priority: 'low' });
        const claimed = await running();
        await created({ priority: 'high' });

        const positions = await store.queuePositions([low.id, claimed.id, 'no-such-session']);
        expect(Object.fromEntries(positions)).toEqual({ [low.id]: 3 });

        await store.claim(urgent.id, 'node-a');
        expect(Object.fromEntries(await store.queuePositions([low.id, urgent.id]))).toEqual({ [low.id]: 2 });
        expect((await store.queuePositions([])).size).toBe(0);
      });

      it('counts pending sessions and sessions of every status', async () => {
        const zeros = Object.fromEntries(SESSION_STATUSES.map((status) => [status, 0]));
        expect(await store.countByStatus()).toEqual(zeros);
        expect(await store.countPending()).toBe(0);

        await created();
        await created();
        await running();
        const failed = await running();
        await store.finish(failed.id, { status: 'failed', error: 'boom' });
        const cancelled = await created();
        await store.finish(cancelled.id, { status: 'cancelled' });

        expect(await store.countPending()).toBe(2);
        expect(await store.countByStatus()).toEqual({ ...zeros, pending: 2, running: 1, failed: 1, cancelled: 1 });
      });
    });

    describe('claim', () => {
      it('moves a pending session to running on the node, started now', async () => {
        const session = await created();
        const claimed = await store.claim(session.id, 'node-a');

        expect(claimed).toMatchObject({ id: session.id, status: 'running', node: 'node-a' });
        expect(claimed!.startedAt).toBeInstanceOf(Date);
        expect(claimed!.startedAt!.getTime()).toBeGreaterThanOrEqual(session.createdAt.getTime());
        expect(plain(await store.get(session.id))).toEqual(plain(claimed));
      });

      it('claims nothing that is not pending, changing nothing', async () => {
        const claimed = await running('node-a');
        const ended = await created();
        const endedSession = await store.finish(ended.id, { status: 'cancelled' });

        expect(await store.claim(claimed.id, 'node-b')).toBeUndefined();
        expect(await store.claim(ended.id, 'node-b')).toBeUndefined();
        expect(await store.claim('no-such-session', 'node-b')).toBeUndefined();
        expect(plain(await store.get(claimed.id))).toEqual(plain(claimed));
        expect(plain(await store.get(ended.id))).toEqual(plain(endedSession));
      });

      it('lets exactly one of 20 concurrent claims win', async () => {
        const session = await created();
        const nodes = Array.from({ length: 20 }, (_, index) => `node-${index}`);

        const results = await Promise.all(nodes.map((node) => store.claim(session.id, node)));

        const winners = results.filter((result) => result !== undefined);
        expect(winners).toHaveLength(1);
        expect(plain(await store.get(session.id))).toEqual(plain(winners[0]));
      });
    });

    describe('finish', () => {
      it('ends a running session, ended now, keeping its node', async () => {
        const session = await running('node-a');
        const finished = await store.finish(session.id, { status: 'completed', exitCode: 0 });

        expect(finished).toMatchObject({ id: session.id, status: 'completed', exitCode: 0, node: 'node-a', startedAt: session.startedAt });
        expect(finished!.error).toBeUndefined();
        expect(finished!.endedAt!.getTime()).toBeGreaterThanOrEqual(session.startedAt!.getTime());
        expect(plain(await store.get(session.id))).toEqual(plain(finished));
      });

      it('ends a pending session', async () => {
        const session = await created();

        expect(await store.finish(session.id, { status: 'failed', exitCode: 2, error: 'could not start' })).toMatchObject({
          status: 'failed',
          exitCode: 2,
          error: 'could not start',
          endedAt: expect.any(Date),
        });
      });

      it('changes nothing once a session is terminal', async () => {
        const session = await running();
        const finished = await store.finish(session.id, { status: 'killed', exitCode: 137 });

        expect(await store.finish(session.id, { status: 'completed', exitCode: 0 })).toBeUndefined();
        expect(await store.finish('no-such-session', { status: 'completed' })).toBeUndefined();
        expect(plain(await store.get(session.id))).toEqual(plain(finished));
      });

      it('ends a session only from the given statuses', async () => {
        const session = await running();

        expect(await store.finish(session.id, { status: 'cancelled' }, ['pending'])).toBeUndefined();
        expect(plain(await store.get(session.id))).toEqual(plain(session));
        expect(await store.finish(session.id, { status: 'killed' }, ['pending', 'running'])).toMatchObject({ status: 'killed' });
      });

      it('lets exactly one of concurrent finishes win', async () => {
        const session = await running();
        const ends = (['completed', 'failed', 'killed', 'cancelled'] as const).flatMap((status) => [status, status, status]);

        const results = await Promise.all(ends.map((status) => store.finish(session.id, { status })));

        const winners = results.filter((result) => result !== undefined);
        expect(winners).toHaveLength(1);
        expect(plain(await store.get(session.id))).toEqual(plain(winners[0]));
      });

      it('lets either a cancel of a pending session or its claim win, never both', async () => {
        const sessions = await Promise.all(Array.from({ length: 20 }, () => created()));

        for (const session of sessions) {
          const [cancelled, claimed] = await Promise.all([
            store.finish(session.id, { status: 'cancelled' }, ['pending']),
            store.claim(session.id, 'node-a'),
          ]);

          expect([cancelled, claimed].filter((result) => result !== undefined)).toHaveLength(1);
          expect(plain(await store.get(session.id))).toEqual(plain(cancelled ?? claimed));
        }
      });
    });

    it('lists the sessions running on a node', async () => {
      const first = await running('node-a');
      const second = await running('node-a');
      await running('node-b');
      await created();
      const ended = await running('node-a');
      await store.finish(ended.id, { status: 'completed' });

      expect((await store.runningOn('node-a')).map((session) => session.id).sort()).toEqual([first.id, second.id].sort());
      expect(await store.runningOn('node-c')).toEqual([]);
    });

    describe('forgetEndedBefore', () => {
      it('deletes the sessions that ended before the cutoff, with their events and idempotency keys', async () => {
        const old = await store.create(newSession({ idempotency: { key: 'old-key', fingerprint: 'f' } }), NO_LIMIT);
        await store.claim(old.session.id, 'node-a');
        await store.appendEvent(old.session.id, { type: 'status', status: 'running', data: {} });
        await store.finish(old.session.id, { status: 'completed' });
        await sleep(20);
        const recent = await running();
        const recentEnd = (await store.finish(recent.id, { status: 'failed' }))!;
        const live = await running();
        const pending = await created();

        expect(await store.forgetEndedBefore(recentEnd.endedAt!)).toBe(1);

        expect(await store.get(old.session.id)).toBeUndefined();
        expect(await store.unacknowledgedEvents(old.session.id)).toEqual([]);
        expect(await store.withIdempotencyKey('old-key')).toBeUndefined();
        expect((await store.create(newSession({ idempotency: { key: 'old-key', fingerprint: 'other' } }), NO_LIMIT)).created).toBe(true);
        for (const kept of [recent, live, pending]) expect(await store.get(kept.id)).toBeDefined();
      });

      it('never deletes a session that has not ended', async () => {
        await running();
        await created();

        expect(await store.forgetEndedBefore(new Date(Date.now() + 3_600_000))).toBe(0);
        expect(await store.countPending()).toBe(1);
      });
    });

    describe('events', () => {
      it('numbers events from 1 and stamps them, keeping each until acknowledged', async () => {
        const session = await running();
        const before = Date.now();

        const first = await store.appendEvent(session.id, { type: 'status', status: 'running', data: { node: 'node-a' } });
        const second = await store.appendEvent(session.id, { type: 'progress', data: { message: 'half way', percent: 50 } });
        const third = await store.appendEvent(session.id, { type: 'result', status: 'completed', data: { exit_code: 0, summary: 'done' } });

        expect(first).toEqual({
          event_id: expect.any(String),
          session_id: session.id,
          sequence: 1,
          timestamp: expect.any(String),
          type: 'status',
          status: 'running',
          data: { node: 'node-a' },
        });
        expect(second).toMatchObject({ sequence: 2, type: 'progress', data: { message: 'half way', percent: 50 } });
        expect(second).not.toHaveProperty('status');
        expect(third).toMatchObject({ sequence: 3, type: 'result', status: 'completed' });
        for (const event of [first, second, third]) {
          expect(callbackEventSchema.parse(event)).toEqual(event);
          expect(Math.abs(Date.parse(event.timestamp) - before)).toBeLessThan(60_000);
        }
        expect(new Set([first.event_id, second.event_id, third.event_id]).size).toBe(3);
        expect(await store.unacknowledgedEvents(session.id)).toEqual([first, second, third]);
      });

      it('forgets an acknowledged event, and ignores an unknown acknowledgement', async () => {
        const session = await running();
        const first = await store.appendEvent(session.id, { type: 'log', data: { stream: 'stdout', line: 'one' } });
        const second = await store.appendEvent(session.id, { type: 'log', data: { stream: 'stderr', line: 'two' } });

        await store.acknowledgeEvent(session.id, first.event_id);
        await store.acknowledgeEvent(session.id, randomUUID());
        await store.acknowledgeEvent('no-such-session', second.event_id);

        expect(await store.unacknowledgedEvents(session.id)).toEqual([second]);
        const third = await store.appendEvent(session.id, { type: 'log', data: { stream: 'stdout', line: 'three' } });
        expect(third.sequence).toBe(3);
      });

      it('numbers each session on its own', async () => {
        const one = await running();
        const other = await running();

        await store.appendEvent(one.id, { type: 'progress', data: { message: 'a' } });
        const otherFirst = await store.appendEvent(other.id, { type: 'progress', data: { message: 'b' } });

        expect(otherFirst.sequence).toBe(1);
        expect(await store.unacknowledgedEvents(other.id)).toEqual([otherFirst]);
        expect(await store.unacknowledgedEvents('no-such-session')).toEqual([]);
      });

      it('moves the spool position with the event that carries it, never back, and keeps it with the session', async () => {
        const session = await running();
        expect(session.spoolPosition).toBe(0);

        await store.appendEvent(session.id, { type: 'log', data: { stream: 'stdout', line: 'line 7' } }, 7);
        await store.appendEvent(session.id, { type: 'status', status: 'running', data: {} });
        expect((await store.get(session.id))?.spoolPosition).toBe(7);
        await store.appendEvent(session.id, { type: 'log', data: { stream: 'stdout', line: 'late' } }, 3);
        await Promise.all(
          [12, 9, 11, 10].map((position) =>
            store.appendEvent(session.id, { type: 'log', data: { stream: 'stdout', line: `line ${position}` } }, position),
          ),
        );

        expect((await store.get(session.id))?.spoolPosition).toBe(12);
        expect((await store.runningOn(session.node!)).find((each) => each.id === session.id)?.spoolPosition).toBe(12);
      });

      it('numbers 50 concurrent events 1..50, without gaps or duplicates', async () => {
        const session = await running();

        const events = await Promise.all(
          Array.from({ length: 50 }, (_, index) => store.appendEvent(session.id, { type: 'progress', data: { message: `step ${index}` } })),
        );

        const expected = Array.from({ length: 50 }, (_, index) => index + 1);
        expect(events.map((event) => event.sequence).sort((a, b) => a - b)).toEqual(expected);
        expect((await store.unacknowledgedEvents(session.id)).map((event) => event.sequence)).toEqual(expected);
      });
    });

    describe('nodes', () => {
      const node = { id: 'node-a', url: 'http://10.0.0.1:3001', capacity: 4, activeSessions: 1, signature: 'signature-a' };

      it('lists a node while its lease lives, with what it last renewed', async () => {
        await store.renewNode(node, 60_000);
        await store.renewNode(
          { id: 'node-b', url: 'http://10.0.0.2:3001', capacity: 2, activeSessions: 0, signature: 'signature-b' },
          60_000,
        );
        await store.renewNode({ ...node, activeSessions: 3 }, 60_000);

        const live = await store.liveNodes();
        expect(live.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
          { ...node, activeSessions: 3 },
          { id: 'node-b', url: 'http://10.0.0.2:3001', capacity: 2, activeSessions: 0, signature: 'signature-b' },
        ]);
        expect(await store.claimExpiredNodes('node-a', 0)).toEqual([]);
      });

      it('forgets a node that leaves', async () => {
        await store.renewNode(node, 60_000);
        await store.leaveNode('node-a');
        await store.leaveNode('no-such-node');

        expect(await store.liveNodes()).toEqual([]);
        expect(await store.claimExpiredNodes('node-b', 0)).toEqual([]);
      });

      it('hands each expired node to exactly one of two concurrent callers', async () => {
        await store.renewNode(node, 50);
        await store.renewNode({ ...node, id: 'node-b' }, 50);
        await store.renewNode({ ...node, id: 'node-c' }, 60_000);
        await sleep(150);

        expect((await store.liveNodes()).map((live) => live.id)).toEqual(['node-c']);
        const [first, second] = await Promise.all([store.claimExpiredNodes('node-c', 0), store.claimExpiredNodes('node-c', 0)]);

        expect([...first, ...second].sort()).toEqual(['node-a', 'node-b']);
        expect(await store.claimExpiredNodes('node-c', 0)).toEqual([]);
        expect((await store.liveNodes()).map((live) => live.id)).toEqual(['node-c']);
      });

      it('keeps a node whose lease was renewed before it expired', async () => {
        await store.renewNode(node, 100);
        await sleep(50);
        await store.renewNode(node, 60_000);
        await sleep(100);

        expect(await store.claimExpiredNodes('node-a', 0)).toEqual([]);
        expect(await store.liveNodes()).toEqual([node]);
      });

      it('claims nothing for a claimant whose own lease has less left than asked, or none', async () => {
        await store.renewNode(node, 50);
        await store.renewNode({ ...node, id: 'node-b' }, 1_000);
        await sleep(100);

        expect(await store.claimExpiredNodes('node-b', 5_000)).toEqual([]);
        expect(await store.claimExpiredNodes('node-c', 0)).toEqual([]);
        expect(await store.claimExpiredNodes('node-b', 500)).toEqual(['node-a']);
      });
    });
  });
}
