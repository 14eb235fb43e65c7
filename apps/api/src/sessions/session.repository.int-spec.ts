import { randomUUID } from 'node:crypto';
import { testDatabaseUrl, withClient } from '../../../../test/support/database';
import { eventually } from '../../../../test/support/eventually';
import { ApiConfig } from '../config/api-config';
import { PrismaService } from '../database/prisma.service';
import { AppError } from '@mosaic/http-kit';
import { OrchestratorSessionRepository } from './session.repository';

describe('OrchestratorSessionRepository (integration)', () => {
  let prisma: PrismaService;
  let repository: OrchestratorSessionRepository;
  const at = new Date('2026-01-01T00:00:00.000Z');

  beforeAll(async () => {
    prisma = new PrismaService(ApiConfig.fromEnvironment({ DATABASE_URL: testDatabaseUrl() }));
    await prisma.onModuleInit();
    repository = new OrchestratorSessionRepository(prisma);
  });

  afterAll(async () => {
    await prisma.onModuleDestroy();
  });

  async function newTask(): Promise<string> {
    const task = await prisma.task.create({ data: { title: 'repository test' } });
    return task.id;
  }

  function createSpawning(taskId: string) {
    return repository.createSpawning({
      id: randomUUID(),
      taskId,
      requestedBy: 'test',
      actor: null,
      callbacksSigned: false,
      callbackTokenHash: 'a'.repeat(64),
      callbackTokenExpiresAt: new Date(Date.now() + 60_000),
    });
  }

  async function spawning(taskId: string) {
    return (await createSpawning(taskId)).session;
  }

  it('creates a spawning session, moves the task with it, and numbers attempts', async () => {
    const taskId = await newTask();
    const first = await spawning(taskId);
    expect(first).toMatchObject({ taskId, status: 'spawning', attempt: 1, orchestratorSessionId: null, lastSequence: 0 });
    expect((await prisma.task.findUniqueOrThrow({ where: { id: taskId } })).status).toBe('spawning');

    await repository.applyStatus(first.id, { status: 'failed', at, error: 'spawn failed: test' });
    const second = await spawning(taskId);
    expect(second.attempt).toBe(2);
  });

  it('returns the task to serialize with the new session, having moved it, and answers not_found for a task that does not exist', async () => {
    const metadata = { repo: 'mosaic', steps: [1, { nested: null }], done: false };
    const task = await prisma.task.create({
      data: { title: 'claimed', description: 'with every field', priority: 'high', labels: ['api', 'urgent-fix'], metadata },
    });
    const { session, task: claimed } = await createSpawning(task.id);
    expect(session.taskId).toBe(task.id);
    expect(claimed).toEqual({
      id: task.id,
      title: 'claimed',
      description: 'with every field',
      priority: 'high',
      labels: ['api', 'urgent-fix'],
      metadata,
      agent: null,
      repository: null,
      createdAt: task.createdAt,
    });
    const moved = await prisma.task.findUniqueOrThrow({ where: { id: task.id } });
    expect(moved.status).toBe('spawning');

    const missing = randomUUID();
    await expect(createSpawning(missing)).rejects.toMatchObject({ code: 'not_found', message: `task ${missing} not found` });
    expect(await prisma.orchestratorSession.count({ where: { taskId: missing } })).toBe(0);
  });

  it('refuses a dispatch of a task whose active session is moving in a transaction that then moves the task, without a deadlock', async () => {
    // What recording a spawn answer or a callback does: change the session row, then the task's status.
    const taskId = await newTask();
    const active = await spawning(taskId);
    await withClient(testDatabaseUrl(), async (mover) => {
      await mover.query('BEGIN');
      await mover.query(`UPDATE orchestrator_sessions SET status = 'pending', orchestrator_session_id = $2 WHERE id = $1`, [
        active.id,
        `orch-${randomUUID()}`,
      ]);
      const second = spawning(taskId).then(
        () => 'created',
        (error: unknown) => error,
      );
      // The second dispatch is queued behind the moving transaction before that transaction touches the task.
      await waitForLockWaiters(1);
      await mover.query(`UPDATE tasks SET status = 'pending' WHERE id = $1`, [taskId]);
      await mover.query('COMMIT');
      expect(await second).toMatchObject({ code: 'conflict' });
    });
    expect(await prisma.orchestratorSession.count({ where: { taskId } })).toBe(1);
    expect((await prisma.task.findUniqueOrThrow({ where: { id: taskId } })).status).toBe('pending');
  });

  async function waitForLockWaiters(count: number): Promise<void> {
    await eventually(async () => {
      const [row] = await prisma.$queryRaw<{ waiting: number }[]>`
        SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
      expect(row?.waiting ?? 0).toBeGreaterThanOrEqual(count);
    }, 5_000);
  }

  it('refuses a second active session for a task, also when both are created at once', async () => {
    const taskId = await newTask();
    const results = await Promise.allSettled([spawning(taskId), spawning(taskId), spawning(taskId)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const result of results.filter((r) => r.status === 'rejected')) {
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(AppError);
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
    }
    expect(await prisma.orchestratorSession.count({ where: { taskId } })).toBe(1);
  });

  it('records the spawn answer and finds the session by either id', async () => {
    const taskId = await newTask();
    const session = await spawning(taskId);
    const orchestratorId = `orch-${randomUUID()}`;
    const spawned = await repository.recordSpawned(session.id, orchestratorId, { status: 'running', at });
    expect(spawned).toMatchObject({ orchestratorSessionId: orchestratorId, status: 'running', startedAt: at });
    expect((await repository.findByOrchestratorId(orchestratorId))?.id).toBe(session.id);
    expect((await repository.findById(session.id))?.orchestratorSessionId).toBe(orchestratorId);
    expect(await repository.findById(randomUUID())).toBeUndefined();
  });

  it('moves status only forward, and a terminal status sticks and frees the task', async () => {
    const taskId = await newTask();
    const session = await spawning(taskId);
    await repository.applyStatus(session.id, { status: 'running', at });
    expect((await repository.applyStatus(session.id, { status: 'pending', at })).status).toBe('running');
    const ended = await repository.applyStatus(session.id, { status: 'completed', at, exitCode: 0 });
    expect(ended).toMatchObject({ status: 'completed', exitCode: 0, endedAt: at });
    const after = await repository.applyStatus(session.id, { status: 'failed', at, error: 'late' });
    expect(after).toMatchObject({ status: 'completed', error: null });
    expect((await prisma.task.findUniqueOrThrow({ where: { id: taskId } })).status).toBe('completed');
    expect((await spawning(taskId)).attempt).toBe(2);
  });

  it('pages newest first with a status filter, visiting every session once', async () => {
    const taskIds = await Promise.all(Array.from({ length: 7 }, () => newTask()));
    const created = [];
    for (const taskId of taskIds) created.push(await spawning(taskId));
    const killedIds = new Set<string>();
    for (const session of created.slice(0, 5)) {
      await repository.applyStatus(session.id, { status: 'killed', at });
      killedIds.add(session.id);
    }

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await repository.list({ status: 'killed', limit: 2, cursor });
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      for (const session of page.sessions) expect(session.status).toBe('killed');
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);

    expect(new Set(seen).size).toBe(seen.length);
    for (const id of killedIds) expect(seen).toContain(id);
    const ours = seen.filter((id) => killedIds.has(id));
    const newestFirst = [...created.slice(0, 5)]
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (b.id < a.id ? -1 : 1))
      .map((s) => s.id);
    expect(ours).toEqual(newestFirst);
  });
});
