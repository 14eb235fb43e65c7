import { Client } from 'pg';
import type { CallbackEvent, ErrorBody } from '@mosaic/orchestrator-contract';
import { TestApi } from '../../../../test/support/api-app';
import { createTestDatabase, dropTestDatabase } from '../../../../test/support/database';
import { type SeededSession, progressEvent, seedServicesOf, seedSession } from '../../../../test/support/seed';
import { PrismaService } from '../database/prisma.service';
import { CALLBACK_MAX_WAIT_MS, CallbackRepository, MAX_QUEUED_CALLBACKS } from './callback.repository';

const STATEMENT_TIMEOUT_MS = 2_000;
const LOCK_MS = 9_000;
const SESSIONS = 60;
const EVENTS_PER_SESSION = 25;

/**
 * Callbacks while the sessions table is locked (a migration, a stuck
 * transaction): every answer comes within a bound and is a 202 or a 503 with
 * Retry-After, never a 500; what waits stays under the queue bound; and once the
 * lock is gone, redelivering every event stores each exactly once.
 * On a database of its own: the lock would stall every other test.
 */
describe('callbacks under a locked sessions table (integration)', () => {
  let url: string;
  let api: TestApi;

  beforeAll(async () => {
    url = await createTestDatabase('overload', { migrate: true });
    api = await TestApi.start({ DATABASE_URL: url, DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) });
  });

  afterAll(async () => {
    await api?.close();
    if (url) await dropTestDatabase(url);
  });

  const send = (session: SeededSession, event: CallbackEvent) =>
    api.request<ErrorBody>('POST', `/orchestrator/callbacks/${session.id}`, { body: event, token: session.token });

  it('answers 202 or a bounded 503, keeps its queue bounded, and loses nothing', async () => {
    const sessions: SeededSession[] = [];
    for (let index = 0; index < SESSIONS; index += 1) sessions.push(await seedSession(seedServicesOf(api), { title: `overload ${index}` }));
    const events = sessions.flatMap((session) =>
      Array.from({ length: EVENTS_PER_SESSION }, (_, index) => ({ session, event: progressEvent(session, index + 1) })),
    );

    const locker = new Client({ connectionString: url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE orchestrator_sessions IN ACCESS EXCLUSIVE MODE');
    const repository = api.get(CallbackRepository);
    let mostQueued = 0;
    const sampler = setInterval(() => (mostQueued = Math.max(mostQueued, repository.queuedCallbacks)), 5);
    const released = new Promise<void>((resolve) => setTimeout(resolve, LOCK_MS)).then(async () => {
      await locker.query('ROLLBACK');
      await locker.end();
    });

    const answers = await Promise.all(
      events.map(async ({ session, event }) => {
        const started = Date.now();
        const answer = await send(session, event);
        return {
          status: answer.status,
          code: answer.body.error?.code,
          retryAfter: answer.headers['retry-after'],
          tookMs: Date.now() - started,
        };
      }),
    );
    await released;
    clearInterval(sampler);

    expect(answers.filter((answer) => answer.status !== 202 && answer.status !== 503)).toEqual([]);
    const refused = answers.filter((answer) => answer.status === 503);
    expect(refused.length).toBeGreaterThan(MAX_QUEUED_CALLBACKS);
    expect(new Set(refused.map((answer) => answer.code))).toEqual(new Set(['at_capacity', 'database_unavailable']));
    expect(refused.every((answer) => answer.retryAfter === '5')).toBe(true);
    expect(Math.max(...answers.map((answer) => answer.tookMs))).toBeLessThan(CALLBACK_MAX_WAIT_MS + STATEMENT_TIMEOUT_MS + 2_000);
    expect(mostQueued).toBeLessThanOrEqual(MAX_QUEUED_CALLBACKS);

    // The orchestrator redelivers what was refused (and may redeliver what was stored): each event is stored once.
    for (const { session, event } of events) expect((await send(session, event)).status).toBe(202);
    const stored = await api
      .get(PrismaService)
      .orchestratorSessionEvent.count({ where: { sessionId: { in: sessions.map((session) => session.id) } } });
    expect(stored).toBe(events.length);
  }, 60_000);
});
