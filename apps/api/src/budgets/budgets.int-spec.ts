import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallbackEvent, UsageData } from '@mosaic/orchestrator-contract';
import { TestApi } from '../../../../test/support/api-app';
import { eventually } from '../../../../test/support/eventually';
import { sampleValue } from '../../../../test/support/metrics-text';
import { type SeededSession, progressEvent, seedServicesOf, seedSession } from '../../../../test/support/seed';
import { StubOrchestrator } from '../../../../test/support/stub-orchestrator';
import { PrismaService } from '../database/prisma.service';
import { BudgetRepository } from './budget.repository';

interface UsageBody {
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

describe('usage and budgets (integration)', () => {
  let stub: StubOrchestrator;
  let api: TestApi;
  let other: TestApi;

  beforeAll(async () => {
    stub = await StubOrchestrator.start();
    const env = { ORCHESTRATOR_URL: stub.url, BUDGET_CHECK_INTERVAL_MS: '200', BUDGET_CANCEL_GRACE_MS: '0' };
    [api, other] = await Promise.all([TestApi.start(env), TestApi.start(env)]);
  });

  afterAll(async () => {
    await Promise.all([api?.close(), other?.close()]);
    await stub?.close();
  });

  async function newSession(budget: Record<string, number> = {}, target: TestApi = api): Promise<SeededSession> {
    const session = await seedSession(seedServicesOf(target), { title: 'budget test', status: 'running' });
    if (Object.keys(budget).length > 0) {
      await target.get(PrismaService).task.update({
        where: { id: session.taskId },
        data: {
          budgetMaxTokens: budget.max_tokens ?? null,
          budgetMaxCostUsd: budget.max_cost_usd ?? null,
          budgetMaxDurationS: budget.max_duration_s ?? null,
        },
      });
    }
    return session;
  }

  const usageEvent = (session: SeededSession, sequence: number, data: Partial<UsageData> | Record<string, unknown>, eventId?: string) =>
    progressEvent(session, sequence, { type: 'usage', data: data as UsageData, ...(eventId === undefined ? {} : { event_id: eventId }) });

  async function deliver(session: SeededSession, event: CallbackEvent | Record<string, unknown>, target: TestApi = api) {
    return target.app
      .getHttpAdapter()
      .getInstance()
      .inject({
        method: 'POST',
        url: `/orchestrator/callbacks/${session.id}`,
        headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
        payload: JSON.stringify(event),
      });
  }

  async function usageOf(path: string): Promise<UsageBody> {
    const answer = await api.request<{ usage: UsageBody }>('GET', path);
    expect(answer.status).toBe(200);
    return answer.body.usage;
  }

  const cancelsOf = (session: SeededSession) =>
    stub.requests.filter(
      (request) => request.path === `/orchestrator/sessions/${encodeURIComponent(session.orchestratorSessionId ?? '')}/cancel`,
    );

  it('totals equal the sum of the stored usage events, whatever their order, duplicates and the instance that took them', async () => {
    const report = fc.record({
      input_tokens: fc.nat(5_000),
      output_tokens: fc.nat(5_000),
      cost_usd: fc.integer({ min: 0, max: 100_000 }).map((micro) => micro / 1e6),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(report, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.infiniteStream(fc.boolean()),
        async (reports, duplicates, onOther) => {
          const first = await newSession();
          const second = await seedSession(seedServicesOf(api), { title: 'budget test' });
          // A second session of the same task: the task's totals are both sessions' together.
          await api.get(PrismaService).orchestratorSession.update({ where: { id: second.id }, data: { taskId: first.taskId } });
          const events = reports.map((data, index) => usageEvent(index % 2 === 0 ? first : second, Math.floor(index / 2) + 1, data));
          const sends = [...events, ...duplicates.filter((index) => index < events.length).map((index) => events[index]!)];
          const answers = await Promise.all(
            fc.sample(fc.shuffledSubarray(sends, { minLength: sends.length }), 1)[0]!.map((event) => {
              const session = event.session_id === first.orchestratorSessionId ? first : second;
              return deliver(session, event, onOther.next().value ? other : api);
            }),
          );
          expect(answers.every((answer) => answer.statusCode === 202)).toBe(true);
          const sum = (of: typeof reports) => ({
            input_tokens: of.reduce((total, data) => total + data.input_tokens, 0),
            output_tokens: of.reduce((total, data) => total + data.output_tokens, 0),
            cost_usd: of.reduce((total, data) => total + data.cost_usd, 0),
          });
          const firstUsage = await usageOf(`/orchestrator/sessions/${first.id}`);
          const expected = sum(reports.filter((_, index) => index % 2 === 0));
          expect(firstUsage).toEqual({ ...expected, cost_usd: expect.closeTo(expected.cost_usd, 6) });
          const taskUsage = await usageOf(`/tasks/${first.taskId}`);
          const all = sum(reports);
          expect(taskUsage).toEqual({ ...all, cost_usd: expect.closeTo(all.cost_usd, 6) });
        },
      ),
      { numRuns: 15 },
    );
  }, 60_000);

  it("counts the day's usage and the metrics by model", async () => {
    const before = await api.get(BudgetRepository).spentToday();
    const scrape = async () => (await api.request<string>('GET', '/metrics')).body;
    const tokensBefore = sampleValue(await scrape(), 'mosaic_usage_tokens_total', { model: 'counted-model', kind: 'input' }) ?? 0;
    const session = await newSession();
    expect(
      (await deliver(session, usageEvent(session, 1, { input_tokens: 40, output_tokens: 2, cost_usd: 0.25, model: 'counted-model' })))
        .statusCode,
    ).toBe(202);
    expect(
      (
        await deliver(
          session,
          usageEvent(session, 1, { input_tokens: 40, output_tokens: 2, cost_usd: 0.25, model: 'counted-model' }, `${session.id}-1`),
        )
      ).statusCode,
    ).toBe(202);
    const after = await api.get(BudgetRepository).spentToday();
    expect(after.inputTokens - before.inputTokens).toBeGreaterThanOrEqual(40);
    expect(after.costUsd - before.costUsd).toBeGreaterThanOrEqual(0.25 - 1e-9);
    expect((sampleValue(await scrape(), 'mosaic_usage_tokens_total', { model: 'counted-model', kind: 'input' }) ?? 0) - tokensBefore).toBe(
      40,
    );
    const today = await api.request<{ day: string; cost_usd: number; daily_cost_limit_usd: number | null }>('GET', '/usage/today');
    expect(today.body).toMatchObject({ day: new Date().toISOString().slice(0, 10), daily_cost_limit_usd: null });
  });

  it.each([
    ['negative tokens', { input_tokens: -1 }],
    ['fractional tokens', { output_tokens: 1.5 }],
    ['huge tokens', { input_tokens: 1e12 }],
    ['a huge cost', { cost_usd: 1e9 }],
    ['a negative cost', { cost_usd: -0.01 }],
    ['tokens as a string', { input_tokens: '12' }],
    ['a NaN string', { cost_usd: 'NaN' }],
    ['null', { input_tokens: null }],
    ['no counts at all', { model: 'x' }],
    ['an unknown field', { input_tokens: 1, tokens: 2 }],
  ])('refuses a usage event with %s (400) and stores nothing', async (_name, data) => {
    const session = await newSession();
    const answer = await deliver(session, usageEvent(session, 1, data));
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ error: { code: 'bad_request' } });
    expect(await usageOf(`/orchestrator/sessions/${session.id}`)).toEqual({ input_tokens: 0, output_tokens: 0, cost_usd: 0 });
    expect(await api.get(PrismaService).orchestratorSessionEvent.count({ where: { sessionId: session.id } })).toBe(0);
  });

  it('cancels a session whose concurrent usage, sent through two instances, passes its budget: once', async () => {
    const session = await newSession({ max_tokens: 250 });
    const events = Array.from({ length: 10 }, (_, index) => usageEvent(session, index + 1, { input_tokens: 60, output_tokens: 40 }));
    const answers = await Promise.all(events.map((event, index) => deliver(session, event, index % 2 === 0 ? api : other)));
    expect(answers.map((answer) => answer.statusCode)).toEqual(events.map(() => 202));
    await eventually(
      async () =>
        expect((await api.request<{ status: string }>('GET', `/orchestrator/sessions/${session.id}`)).body.status).toBe('cancelled'),
      5_000,
    );
    await sleep(500);
    expect(cancelsOf(session)).toHaveLength(1);
    expect(cancelsOf(session)[0]!.body).toEqual({ grace_ms: 0 });
    const stored = await api.request<{ status: string; error: string; events: { type: string; data: Record<string, unknown> }[] }>(
      'GET',
      `/orchestrator/sessions/${session.id}`,
    );
    expect(stored.body).toMatchObject({ status: 'cancelled', error: 'budget_exceeded' });
    const record = stored.body.events.find((event) => event.data.actor === 'budget');
    // The crossing was seen by the event that passed 250: the third one stored (300), whichever it was.
    expect(record?.data).toEqual({ actor: 'budget', reason: 'budget_exceeded', limit: 'max_tokens', max: 250, used: 300, over_by: 50 });
    // Usage still counts after the crossing: every stored report is in the totals.
    expect(await usageOf(`/orchestrator/sessions/${session.id}`)).toEqual({ input_tokens: 600, output_tokens: 400, cost_usd: 0 });
  });

  it("cancels by cost too, and keeps budget_exceeded when the orchestrator's cancelled callback comes first", async () => {
    const session = await newSession({ max_cost_usd: 0.5 });
    stub.respond = async (request) => {
      if (!request.path.endsWith('/cancel')) return undefined;
      // The callback of the cancel arrives before the answer to it.
      await deliver(session, progressEvent(session, 3, { type: 'status', status: 'cancelled', data: {} }));
      return { status: 200, body: { session_id: session.orchestratorSessionId, status: 'cancelled' } };
    };
    try {
      await deliver(session, usageEvent(session, 1, { cost_usd: 0.3 }));
      await deliver(session, usageEvent(session, 2, { cost_usd: 0.3 }));
      await eventually(() => expect(cancelsOf(session)).toHaveLength(1), 5_000);
      await sleep(300);
    } finally {
      stub.respond = () => undefined;
    }
    const stored = await api.request<{ status: string; error: string }>('GET', `/orchestrator/sessions/${session.id}`);
    expect(stored.body).toMatchObject({ status: 'cancelled', error: 'budget_exceeded' });
  });

  it('cancels a session that runs past max_duration_s though it reports nothing, once across instances', async () => {
    const session = await newSession({ max_duration_s: 1 });
    await api.get(PrismaService).orchestratorSession.update({ where: { id: session.id }, data: { startedAt: new Date(Date.now() - 900) } });
    await eventually(
      async () =>
        expect((await api.request<{ status: string }>('GET', `/orchestrator/sessions/${session.id}`)).body.status).toBe('cancelled'),
      5_000,
    );
    await sleep(600);
    expect(cancelsOf(session)).toHaveLength(1);
    const stored = await api.request<{ error: string; events: { data: Record<string, unknown> }[] }>(
      'GET',
      `/orchestrator/sessions/${session.id}`,
    );
    expect(stored.body.error).toBe('budget_exceeded');
    expect(stored.body.events.find((event) => event.data.actor === 'budget')?.data).toMatchObject({
      limit: 'max_duration_s',
      max: 1,
      used: 1,
    });
  });

  it("refuses dispatches with 429 once the day's cost reaches MOSAIC_DAILY_COST_LIMIT_USD", async () => {
    const spent = await api.get(BudgetRepository).spentToday();
    const limited = await TestApi.start({
      ORCHESTRATOR_URL: stub.url,
      MOSAIC_DAILY_COST_LIMIT_USD: String(Math.round((spent.costUsd + 1) * 1e6) / 1e6),
    });
    try {
      const task = await limited.request<{ id: string }>('POST', '/tasks', { body: { title: 'before the limit' } });
      expect((await limited.request('POST', `/tasks/${task.body.id}/dispatch`)).status).toBe(202);
      const session = await newSession();
      await deliver(session, usageEvent(session, 1, { cost_usd: 1.5 }));
      const next = await limited.request<{ id: string }>('POST', '/tasks', { body: { title: 'after the limit' } });
      const refused = await limited.request<{ error: { code: string; message: string } }>('POST', `/tasks/${next.body.id}/dispatch`);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('daily_budget_exhausted');
      expect(refused.body.error.message).toContain('MOSAIC_DAILY_COST_LIMIT_USD');
      expect((await limited.request<{ session: unknown }>('GET', `/tasks/${next.body.id}`)).body.session).toBeNull();
      expect((await limited.request<{ daily_cost_limit_usd: number }>('GET', '/usage/today')).body.daily_cost_limit_usd).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });

  describe("a session's share of the day", () => {
    interface Today {
      cost_usd: number;
      uncounted_cost_usd: number;
      last_reset: { at: string; by: string; cleared_cost_usd: number } | null;
    }
    const today = async (target: TestApi = api) => (await target.request<Today>('GET', '/usage/today')).body;

    it('counts at most SESSION_SPEND_CEILING_USD of one huge usage report against the day, the rest apart', async () => {
      const before = await today();
      const session = await newSession();

      expect((await deliver(session, usageEvent(session, 1, { cost_usd: 100_000 }))).statusCode).toBe(202);

      const after = await today();
      expect(after.cost_usd - before.cost_usd).toBeCloseTo(100, 6);
      expect(after.uncounted_cost_usd - before.uncounted_cost_usd).toBeCloseTo(99_900, 6);
      // The session's own usage shows all it reported.
      expect((await usageOf(`/orchestrator/sessions/${session.id}`)).cost_usd).toBe(100_000);
    });

    it("counts at most the task's max_cost_usd when it is below the ceiling, over several reports", async () => {
      const before = await today();
      const session = await newSession({ max_cost_usd: 2 });

      for (const [sequence, cost] of [1.5, 1.5, 40].entries()) {
        expect((await deliver(session, usageEvent(session, sequence + 1, { cost_usd: cost }))).statusCode).toBe(202);
      }

      const after = await today();
      expect(after.cost_usd - before.cost_usd).toBeCloseTo(2, 6);
      expect(after.uncounted_cost_usd - before.uncounted_cost_usd).toBeCloseTo(41, 6);
    });

    it('takes a lower SESSION_SPEND_CEILING_USD from the configuration', async () => {
      const low = await TestApi.start({ ORCHESTRATOR_URL: stub.url, SESSION_SPEND_CEILING_USD: '0.5' });
      try {
        const before = await today(low);
        const session = await newSession({}, low);
        await deliver(session, usageEvent(session, 1, { cost_usd: 3 }), low);
        expect((await today(low)).cost_usd - before.cost_usd).toBeCloseTo(0.5, 6);
      } finally {
        await low.close();
      }
    });

    it("lets the administrator reset the day's counter, recording who did and what was cleared, so dispatches resume", async () => {
      const session = await newSession();
      await deliver(session, usageEvent(session, 1, { cost_usd: 7 }));
      const spent = await today();
      expect(spent.cost_usd).toBeGreaterThan(0);
      const limited = await TestApi.start({ ORCHESTRATOR_URL: stub.url, MOSAIC_DAILY_COST_LIMIT_USD: '1' });
      try {
        const task = await limited.request<{ id: string }>('POST', '/tasks', { body: { title: 'held by the day' } });
        expect((await limited.request('POST', `/tasks/${task.body.id}/dispatch`)).status).toBe(429);

        const reset = await limited.request<Today>('POST', '/usage/today/reset');

        expect(reset.status).toBe(200);
        expect(reset.body).toMatchObject({ cost_usd: 0, uncounted_cost_usd: 0, last_reset: { by: 'admin' } });
        expect(reset.body.last_reset!.cleared_cost_usd).toBeGreaterThanOrEqual(spent.cost_usd - 1e-6);
        expect((await today()).last_reset).toEqual(reset.body.last_reset);
        const audit = await api.get(PrismaService).$queryRaw<
          { actor: string; cost_usd: string }[]
        >`SELECT actor, cost_usd::text FROM daily_usage_resets ORDER BY reset_at DESC LIMIT 1`;
        expect(audit).toEqual([{ actor: 'admin', cost_usd: expect.any(String) }]);
        expect(Number(audit[0]!.cost_usd)).toBeCloseTo(reset.body.last_reset!.cleared_cost_usd, 6);
        expect((await limited.request('POST', `/tasks/${task.body.id}/dispatch`)).status).toBe(202);
      } finally {
        await limited.close();
      }
    });

    it('refuses the reset to anyone but the administrator, and changes nothing', async () => {
      const session = await newSession();
      await deliver(session, usageEvent(session, 1, { cost_usd: 1 }));
      const before = await today();
      const key = await api.request<{ key: string }>('POST', '/operator-keys', {
        body: { name: `usage reader ${randomUUID()}`, scopes: ['read', 'dispatch', 'stop'] },
      });

      const byKey = await api.request<{ error: { code: string } }>('POST', '/usage/today/reset', { token: key.body.key });
      const anonymous = await api.request<{ error: { code: string } }>('POST', '/usage/today/reset', { token: null });

      expect(byKey.status).toBe(403);
      expect(byKey.body.error.code).toBe('insufficient_scope');
      expect(anonymous.status).toBe(401);
      expect(await today()).toEqual(before);
    });
  });

  describe('POST /tasks budget', () => {
    it("keeps a valid budget and shows it with the task's usage", async () => {
      const created = await api.request<{ id: string; budget: unknown; usage: unknown }>('POST', '/tasks', {
        body: { title: 'budgeted', budget: { max_tokens: 250, max_cost_usd: 1.25, max_duration_s: 60 } },
      });
      expect(created.status).toBe(201);
      expect(created.body.budget).toEqual({ max_tokens: 250, max_cost_usd: 1.25, max_duration_s: 60 });
      expect(created.body.usage).toEqual({ input_tokens: 0, output_tokens: 0, cost_usd: 0 });
      const read = await api.request<{ budget: unknown }>('GET', `/tasks/${created.body.id}`);
      expect(read.body.budget).toEqual({ max_tokens: 250, max_cost_usd: 1.25, max_duration_s: 60 });
      const none = await api.request<{ budget: unknown }>('POST', '/tasks', { body: { title: 'no budget' } });
      expect(none.body.budget).toEqual({ max_tokens: null, max_cost_usd: null, max_duration_s: null });
    });

    it.each([
      [{ max_tokens: 0 }, 'budget.max_tokens'],
      [{ max_tokens: -5 }, 'budget.max_tokens'],
      [{ max_tokens: 2.5 }, 'budget.max_tokens'],
      [{ max_cost_usd: 'ten' }, 'budget.max_cost_usd'],
      [{ max_cost_usd: 0 }, 'budget.max_cost_usd'],
      [{ max_duration_s: 1e12 }, 'budget.max_duration_s'],
      [{ max_seconds: 5 }, 'budget.max_seconds'],
      ['lots', 'budget'],
    ])('refuses budget %j with 400 naming %s, and creates nothing', async (budget, field) => {
      const title = `bad budget ${randomUUID()}`;
      const answer = await api.request<{ error: { code: string; message: string } }>('POST', '/tasks', { body: { title, budget } });
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toContain(field);
      expect(await api.get(PrismaService).task.count({ where: { title } })).toBe(0);
    });
  });
});
