import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { KillResponse, SessionStatusResponse } from '@mosaic/orchestrator-contract';
import { createTestDatabase, dropTestDatabase } from '../../../../test/support/database';
import { eventually } from '../../../../test/support/eventually';
import { seedSession } from '../../../../test/support/seed';
import { CallbackTokenService } from '../sessions/callback-token.service';
import { ApiConfig } from '../config/api-config';
import { PrismaService } from '../database/prisma.service';
import { ApiMetrics } from '../metrics/api-metrics';
import type { OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { OrchestratorError } from '../orchestrator-gateway/orchestrator.errors';
import { SessionSyncService } from '../sessions/session-sync.service';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import { ReconciliationRepository } from './reconciliation.repository';
import { ReconciliationService } from './reconciliation.service';

/**
 * The orchestrator's status endpoint, scripted per orchestrator session id (unknown ids are a 404);
 * its list by idempotency key, scripted per key; and its kill, which records the id and answers `killed`.
 */
class FakeOrchestrator {
  readonly answers = new Map<string, SessionStatusResponse | OrchestratorError>();
  readonly calls: string[] = [];
  readonly spawned = new Map<string, SessionStatusResponse | OrchestratorError>();
  readonly lookups: string[] = [];
  readonly kills: string[] = [];
  /** Failures the next kills answer with, in turn. */
  readonly killFailures: OrchestratorError[] = [];
  /** While set, every status call waits for it. */
  gate: Promise<void> | undefined;

  async getStatus(orchestratorSessionId: string): Promise<SessionStatusResponse> {
    this.calls.push(orchestratorSessionId);
    await this.gate;
    const answer = this.answers.get(orchestratorSessionId);
    if (answer === undefined) throw new OrchestratorError('not_found', `orchestrator session ${orchestratorSessionId} not found`);
    if (answer instanceof OrchestratorError) throw answer;
    return answer;
  }

  async findSpawned(idempotencyKey: string): Promise<SessionStatusResponse | undefined> {
    this.lookups.push(idempotencyKey);
    const answer = this.spawned.get(idempotencyKey);
    if (answer instanceof OrchestratorError) throw answer;
    return answer;
  }

  async kill(orchestratorSessionId: string): Promise<KillResponse> {
    const failure = this.killFailures.shift();
    if (failure !== undefined) throw failure;
    this.kills.push(orchestratorSessionId);
    return { session_id: orchestratorSessionId, status: 'killed' };
  }
}

const STALE_AFTER_MS = 60_000;

describe('ReconciliationService', () => {
  // Its own database: a run looks at every quiet session, so no other test's rows may be in it.
  let url: string;
  let config: ApiConfig;
  const prismas: PrismaService[] = [];
  const services: ReconciliationService[] = [];
  let prisma: PrismaService;
  let sessions: OrchestratorSessionRepository;
  let orchestrator: FakeOrchestrator;
  let service: ReconciliationService;

  beforeAll(async () => {
    url = await createTestDatabase('reconcile', { migrate: true });
    config = ApiConfig.fromEnvironment({
      DATABASE_URL: url,
      RECONCILE_STALE_AFTER_MS: String(STALE_AFTER_MS),
      RECONCILE_INTERVAL_MS: '10',
    });
    prisma = await connect();
    sessions = new OrchestratorSessionRepository(prisma);
  });

  beforeEach(async () => {
    await prisma.task.deleteMany();
    orchestrator = new FakeOrchestrator();
    service = reconciliationService(prisma, orchestrator);
  });

  afterEach(async () => {
    await Promise.all(services.splice(0).map((started) => started.onModuleDestroy()));
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    await Promise.all(prismas.map((client) => client.$disconnect()));
    if (url) await dropTestDatabase(url);
  });

  /** Another API process's database pool. */
  async function connect(): Promise<PrismaService> {
    const client = new PrismaService(config);
    await client.onModuleInit();
    prismas.push(client);
    return client;
  }

  function reconciliationService(client: PrismaService, fake: FakeOrchestrator): ReconciliationService {
    const repository = new OrchestratorSessionRepository(client);
    const sync = new SessionSyncService(fake as unknown as OrchestratorClient, repository);
    const created = new ReconciliationService(config, repository, sync, new ReconciliationRepository(client), new ApiMetrics());
    services.push(created);
    return created;
  }

  async function newSession(options: { status: 'spawning' | 'pending' | 'running'; quiet?: boolean; old?: boolean }) {
    const seeded = await seedSession(
      { prisma, sessions, tokens: new CallbackTokenService(config) },
      { title: 'reconciliation test', status: options.status },
    );
    if (options.quiet !== false) {
      await prisma.$executeRaw`UPDATE orchestrator_sessions SET updated_at = now() - interval '1 hour' WHERE id = ${seeded.id}::uuid`;
    }
    if (options.old === true) {
      await prisma.$executeRaw`UPDATE orchestrator_sessions SET created_at = now() - interval '1 hour' WHERE id = ${seeded.id}::uuid`;
    }
    return { id: seeded.id, taskId: seeded.taskId, orchestratorSessionId: seeded.orchestratorSessionId ?? '' };
  }

  const sessionRow = (id: string) => prisma.orchestratorSession.findUniqueOrThrow({ where: { id } });
  const taskStatus = async (id: string) => (await prisma.task.findUniqueOrThrow({ where: { id } })).status;

  function answer(orchestratorSessionId: string, fields: Partial<SessionStatusResponse>): SessionStatusResponse {
    return { session_id: orchestratorSessionId, status: 'running', created_at: new Date().toISOString(), ...fields };
  }

  it('applies the terminal status the orchestrator reports for a quiet session, to the task too', async () => {
    const session = await newSession({ status: 'running' });
    const endedAt = '2026-01-01T00:00:05.000Z';
    orchestrator.answers.set(
      session.orchestratorSessionId,
      answer(session.orchestratorSessionId, { status: 'completed', exit_code: 0, ended_at: endedAt }),
    );

    const run = await service.runOnce();

    expect(run).toEqual({ ran: true, checked: 1, changed: 1, lost: 0, skipped: 0 });
    expect(await sessionRow(session.id)).toMatchObject({
      status: 'completed',
      exitCode: 0,
      endedAt: new Date(endedAt),
      activeTaskId: null,
    });
    expect(await taskStatus(session.taskId)).toBe('completed');
  });

  it('moves a quiet pending session to running when the orchestrator says so, and leaves a running one running', async () => {
    const pending = await newSession({ status: 'pending' });
    const running = await newSession({ status: 'running' });
    const startedAt = '2026-01-01T00:00:01.000Z';
    orchestrator.answers.set(pending.orchestratorSessionId, answer(pending.orchestratorSessionId, { started_at: startedAt }));
    orchestrator.answers.set(running.orchestratorSessionId, answer(running.orchestratorSessionId, {}));

    const run = await service.runOnce();

    expect(run).toEqual({ ran: true, checked: 2, changed: 1, lost: 0, skipped: 0 });
    expect(await sessionRow(pending.id)).toMatchObject({ status: 'running', startedAt: new Date(startedAt) });
    expect(await taskStatus(pending.taskId)).toBe('running');
    expect((await sessionRow(running.id)).status).toBe('running');
  });

  it('fails a session the orchestrator does not know as lost', async () => {
    const session = await newSession({ status: 'running' });

    const run = await service.runOnce();

    expect(orchestrator.calls).toEqual([session.orchestratorSessionId]);
    expect(run).toEqual({ ran: true, checked: 1, changed: 1, lost: 1, skipped: 0 });
    expect(await sessionRow(session.id)).toMatchObject({ status: 'failed', error: 'lost', activeTaskId: null });
    expect(await taskStatus(session.taskId)).toBe('failed');
  });

  it.each(['unreachable', 'timeout', 'circuit_open', 'rejected'] as const)(
    'leaves a session as it is for the next run when the orchestrator fails with %s, logging it once',
    async (failure) => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const session = await newSession({ status: 'running' });
      orchestrator.answers.set(session.orchestratorSessionId, new OrchestratorError(failure, `orchestrator ${failure}`));
      const before = await sessionRow(session.id);

      const runs = [await service.runOnce(), await service.runOnce()];

      expect(runs).toEqual([
        { ran: true, checked: 1, changed: 0, lost: 0, skipped: 1 },
        { ran: true, checked: 1, changed: 0, lost: 0, skipped: 1 },
      ]);
      expect(await sessionRow(session.id)).toEqual(before);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]?.[0]).toContain(failure);
    },
  );

  it('does not look at sessions heard of recently, nor at terminal ones', async () => {
    await newSession({ status: 'running', quiet: false });
    await newSession({ status: 'spawning', quiet: false });
    const ended = await newSession({ status: 'running' });
    await sessions.applyStatus(ended.id, { status: 'completed', at: new Date() });
    await prisma.$executeRaw`UPDATE orchestrator_sessions SET updated_at = now() - interval '1 hour' WHERE id = ${ended.id}::uuid`;

    const run = await service.runOnce();

    expect(run).toEqual({ ran: true, checked: 0, changed: 0, lost: 0, skipped: 0 });
    expect(orchestrator.calls).toEqual([]);
  });

  it('does not look at a session whose last callback is recent, however old its row', async () => {
    const session = await newSession({ status: 'running' });
    await prisma.$executeRaw`UPDATE orchestrator_sessions SET last_event_at = now() WHERE id = ${session.id}::uuid`;
    await prisma.$executeRaw`UPDATE orchestrator_sessions SET updated_at = now() - interval '1 hour' WHERE id = ${session.id}::uuid`;

    expect(await service.runOnce()).toEqual({ ran: true, checked: 0, changed: 0, lost: 0, skipped: 0 });
  });

  it('checks every quiet session in a run, past the first page, though the first ones stay unchanged run after run', async () => {
    const unchanged = 520;
    // Quieter than the lost session below, so that they come first in every run, as long-running silent agents would.
    const ids = await prisma.$queryRaw<{ orchestrator_session_id: string }[]>`
      WITH task AS (
        INSERT INTO tasks (id, title, status, updated_at)
        SELECT gen_random_uuid(), 'quiet ' || i, 'running', now() FROM generate_series(1, ${unchanged}::int) AS i
        RETURNING id
      )
      INSERT INTO orchestrator_sessions (id, task_id, active_task_id, orchestrator_session_id, status, callback_token_hash,
                                         callback_token_expires_at, updated_at)
      SELECT gen_random_uuid(), id, id, 'orch-' || gen_random_uuid(), 'running', 'hash', now() + interval '1 day',
             now() - interval '2 hours'
        FROM task
      RETURNING orchestrator_session_id`;
    for (const { orchestrator_session_id: id } of ids) orchestrator.answers.set(id, answer(id, {}));
    const lost = await newSession({ status: 'running' });

    const first = await service.runOnce();
    const second = await service.runOnce();

    expect(first).toEqual({ ran: true, checked: unchanged + 1, changed: 1, lost: 1, skipped: 0 });
    expect(await sessionRow(lost.id)).toMatchObject({ status: 'failed', error: 'lost' });
    expect(second).toEqual({ ran: true, checked: unchanged, changed: 0, lost: 0, skipped: 0 });
    expect(new Set(orchestrator.calls).size).toBe(unchanged + 1);
  });

  it('fails a session whose spawn the orchestrator never confirmed as spawn_unconfirmed', async () => {
    const unconfirmed = await newSession({ status: 'spawning', old: true });
    const fresh = await newSession({ status: 'spawning', quiet: false });
    // Quiet, but young enough that its dispatch may still be retrying the spawn.
    const retrying = await newSession({ status: 'spawning' });

    const run = await service.runOnce();

    expect(orchestrator.calls).toEqual([]);
    // Only the spawn whose dispatch has given up is looked for; the orchestrator started nothing for it.
    expect(orchestrator.lookups).toEqual([unconfirmed.id]);
    expect(orchestrator.kills).toEqual([]);
    expect(run).toEqual({ ran: true, checked: 2, changed: 1, lost: 1, skipped: 0 });
    expect((await sessionRow(retrying.id)).status).toBe('spawning');
    expect(await sessionRow(unconfirmed.id)).toMatchObject({ status: 'failed', error: 'spawn_unconfirmed', activeTaskId: null });
    expect(await taskStatus(unconfirmed.taskId)).toBe('failed');
    expect((await sessionRow(fresh.id)).status).toBe('spawning');
  });

  it('kills the agent an unconfirmed spawn did start, recording its orchestrator session: killed, spawn_unconfirmed', async () => {
    const session = await newSession({ status: 'spawning', old: true });
    orchestrator.spawned.set(session.id, answer('orch-started', { status: 'running' }));

    const run = await service.runOnce();

    expect(orchestrator.lookups).toEqual([session.id]);
    expect(orchestrator.kills).toEqual(['orch-started']);
    expect(run).toEqual({ ran: true, checked: 1, changed: 1, lost: 0, skipped: 0 });
    expect(await sessionRow(session.id)).toMatchObject({
      status: 'killed',
      error: 'spawn_unconfirmed',
      orchestratorSessionId: 'orch-started',
      activeTaskId: null,
    });
    expect(await taskStatus(session.taskId)).toBe('killed');
  });

  it('leaves an unconfirmed spawn for the next run when the orchestrator cannot say what it started', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const session = await newSession({ status: 'spawning', old: true });
    orchestrator.spawned.set(session.id, new OrchestratorError('unreachable', 'orchestrator unreachable'));

    expect(await service.runOnce()).toEqual({ ran: true, checked: 1, changed: 0, lost: 0, skipped: 1 });
    expect(await sessionRow(session.id)).toMatchObject({ status: 'spawning', orchestratorSessionId: null, error: null });
  });

  it('kills on a later run the agent whose kill did not get through', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const session = await newSession({ status: 'spawning', old: true });
    orchestrator.spawned.set(session.id, answer('orch-started', { status: 'running' }));
    orchestrator.killFailures.push(new OrchestratorError('timeout', 'kill timed out'));

    expect(await service.runOnce()).toEqual({ ran: true, checked: 1, changed: 0, lost: 0, skipped: 1 });
    expect(await sessionRow(session.id)).toMatchObject({
      status: 'spawning',
      error: 'spawn_unconfirmed',
      orchestratorSessionId: 'orch-started',
    });
    await prisma.$executeRaw`UPDATE orchestrator_sessions SET updated_at = now() - interval '1 hour' WHERE id = ${session.id}::uuid`;

    expect(await service.runOnce()).toEqual({ ran: true, checked: 1, changed: 1, lost: 0, skipped: 0 });
    expect(orchestrator.kills).toEqual(['orch-started']);
    expect(orchestrator.calls).toEqual([]);
    expect(await sessionRow(session.id)).toMatchObject({ status: 'killed', error: 'spawn_unconfirmed' });
  });

  it('leaves an unconfirmed spawn alone when its spawn answer is recorded first', async () => {
    const session = await newSession({ status: 'spawning' });
    const quiet = (await sessions.quietSessions(new Date(Date.now() - STALE_AFTER_MS), 10).next()).value;
    await sessions.recordSpawned(session.id, `orch-${randomUUID()}`, { status: 'pending', at: new Date() });

    expect(quiet?.id).toBe(session.id);
    expect(await sessions.failUnconfirmedSpawn(session.id, new Date())).toBe(false);
    expect((await sessionRow(session.id)).status).toBe('pending');
  });

  it('runs in one API process at a time', async () => {
    const session = await newSession({ status: 'running' });
    orchestrator.answers.set(session.orchestratorSessionId, answer(session.orchestratorSessionId, { status: 'completed', exit_code: 0 }));
    const otherOrchestrator = new FakeOrchestrator();
    const otherProcess = reconciliationService(await connect(), otherOrchestrator);
    let open = () => {};
    orchestrator.gate = new Promise((resolve) => (open = resolve));

    const first = service.runOnce();
    await eventually(() => expect(orchestrator.calls).toHaveLength(1), 5_000);
    const second = await otherProcess.runOnce();
    open();

    expect(second).toEqual({ ran: false, checked: 0, changed: 0, lost: 0, skipped: 0 });
    expect(otherOrchestrator.calls).toEqual([]);
    expect(await first).toEqual({ ran: true, checked: 1, changed: 1, lost: 0, skipped: 0 });
    // The lock is gone with the first run.
    expect(await otherProcess.runOnce()).toEqual({ ran: true, checked: 0, changed: 0, lost: 0, skipped: 0 });
  });

  it('holds no transaction open while it waits for the orchestrator', async () => {
    const session = await newSession({ status: 'running' });
    orchestrator.answers.set(session.orchestratorSessionId, answer(session.orchestratorSessionId, {}));
    let open = () => {};
    orchestrator.gate = new Promise((resolve) => (open = resolve));

    const run = service.runOnce();
    await eventually(() => expect(orchestrator.calls).toHaveLength(1), 5_000);
    const inTransaction = await prisma.$queryRaw<{ state: string }[]>`
      SELECT state FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`;
    open();

    expect(inTransaction).toEqual([]);
    expect(await run).toMatchObject({ ran: true, checked: 1 });
  });

  it('runs in a loop from bootstrap, one run at a time, until the module is destroyed', async () => {
    const session = await newSession({ status: 'running' });
    orchestrator.answers.set(session.orchestratorSessionId, answer(session.orchestratorSessionId, {}));
    let open = () => {};
    orchestrator.gate = new Promise((resolve) => (open = resolve));

    service.onApplicationBootstrap();
    await eventually(() => expect(orchestrator.calls).toHaveLength(1), 5_000);
    // The interval is 10 ms: a loop that overlapped itself would have started more runs by now.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(orchestrator.calls).toHaveLength(1);
    orchestrator.gate = undefined;
    open();
    await eventually(() => expect(orchestrator.calls.length).toBeGreaterThanOrEqual(3), 5_000);

    await service.onModuleDestroy();
    const callsAtStop = orchestrator.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(orchestrator.calls).toHaveLength(callsAtStop);
  });
});
