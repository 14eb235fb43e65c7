import { join } from 'node:path';
import { testDatabaseUrl, withClient } from '../support/database';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { freePort, startService, stopLeavingNoProcesses, withServiceOutput, type ServiceProcess } from '../support/service-process';

const ORCHESTRATOR_ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const ORCHESTRATOR_KEY = 'e2e-budgets-orchestrator-key';
const OPERATOR_TOKEN = 'e2e-budgets-operator-token';
const CANCEL_GRACE_MS = 3_000;
/** What the daily limit lets the run spend beyond what other tests of this run spent today. */
const DAILY_HEADROOM_USD = 0.5;

jest.setTimeout(60_000);

interface SessionBody {
  id: string;
  status: string;
  error: string | null;
  started_at: string | null;
  ended_at: string | null;
  usage: { input_tokens: number; output_tokens: number; cost_usd: number };
  events: { type: string; received_at: string; data: Record<string, unknown> }[];
}

/** Usage and budgets end to end: real agents report what they spend, the API cancels them through a real orchestrator. */
describe('usage and budgets (built services)', () => {
  let orchestrator: ServiceProcess | undefined;
  let api: ServiceProcess | undefined;

  const call = <T = unknown>(method: string, path: string, body?: unknown) =>
    request<T>(method, `${api!.url}${path}`, { body, token: OPERATOR_TOKEN });

  async function dispatchTask(task: Record<string, unknown>): Promise<string> {
    const created = await call<{ id: string }>('POST', '/tasks', { title: 'budget e2e', ...task });
    expect(created.status).toBe(201);
    const dispatched = await call<{ session: { id: string } }>('POST', `/tasks/${created.body.id}/dispatch`);
    expect(dispatched.status).toBe(202);
    return dispatched.body.session.id;
  }

  function waitForEnd(id: string, timeoutMs = 30_000): Promise<SessionBody> {
    return eventually(async () => {
      const { body } = await call<SessionBody>('GET', `/orchestrator/sessions/${id}`);
      expect(['completed', 'failed', 'killed', 'cancelled']).toContain(body.status);
      return body;
    }, timeoutMs);
  }

  const withOutput = (body: () => Promise<void>) => withServiceOutput(() => [api, orchestrator], body, 8_000);

  beforeAll(async () => {
    const spentToday = await withClient(testDatabaseUrl(), async (client) => {
      const result = await client.query<{ cost: string | null }>(
        `SELECT cost_usd::text AS cost FROM daily_usage WHERE day = (now() AT TIME ZONE 'UTC')::date`,
      );
      return Number(result.rows[0]?.cost ?? 0);
    });
    const orchestratorPort = await freePort();
    orchestrator = await startService({
      name: 'orchestrator',
      entry: ORCHESTRATOR_ENTRY,
      port: orchestratorPort,
      env: { ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY, SHUTDOWN_GRACE_MS: '1000' },
    });
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ORCHESTRATOR_URL: orchestrator.url,
        ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
        BUDGET_CANCEL_GRACE_MS: String(CANCEL_GRACE_MS),
        BUDGET_CHECK_INTERVAL_MS: '250',
        MOSAIC_DAILY_COST_LIMIT_USD: (spentToday + DAILY_HEADROOM_USD).toFixed(6),
      },
    });
  });

  afterAll(async () => {
    await api?.stop();
    await stopLeavingNoProcesses(orchestrator);
  });

  it(
    'cancels an agent that reports 100 tokens a step once it passes max_tokens 250: after its third report, within the grace',
    withOutput(async () => {
      const id = await dispatchTask({
        budget: { max_tokens: 250 },
        metadata: { sample_agent: { steps: 20, step_ms: 400, usage_per_step: { input_tokens: 100, output_tokens: 0 } } },
      });
      await waitForEnd(id);
      // The record of the cancel is stored once the orchestrator answers it, which can be after its terminal callback.
      const session = await eventually(async () => {
        const { body } = await call<SessionBody>('GET', `/orchestrator/sessions/${id}`);
        expect(body.events.some((event) => event.data.actor === 'budget')).toBe(true);
        return body;
      }, 10_000);
      expect(session).toMatchObject({ status: 'cancelled', error: 'budget_exceeded' });
      expect(session.usage.input_tokens).toBe(300);
      const usage = session.events.filter((event) => event.type === 'usage');
      expect(usage).toHaveLength(3);
      const record = session.events.find((event) => event.data.actor === 'budget');
      expect(record?.data).toMatchObject({ reason: 'budget_exceeded', limit: 'max_tokens', max: 250, used: 300, over_by: 50 });
      const thirdReport = Date.parse(usage[2]!.received_at);
      expect(Date.parse(session.ended_at!) - thirdReport).toBeLessThan(CANCEL_GRACE_MS);
      // The sample agent stops on SIGTERM: the cancel did not need its grace.
      expect(session.events.some((event) => event.type === 'log' && String(event.data.line).includes('got SIGTERM, stopping'))).toBe(true);
    }),
  );

  it(
    'cancels an agent that reports nothing once it runs past max_duration_s, within 2 s of the limit',
    withOutput(async () => {
      const id = await dispatchTask({
        budget: { max_duration_s: 2 },
        metadata: { sample_agent: { steps: 100, step_ms: 200, usage_per_step: null } },
      });
      const session = await waitForEnd(id);
      expect(session).toMatchObject({ status: 'cancelled', error: 'budget_exceeded' });
      expect(session.usage).toEqual({ input_tokens: 0, output_tokens: 0, cost_usd: 0 });
      const ranMs = Date.parse(session.ended_at!) - Date.parse(session.started_at!);
      expect(ranMs).toBeGreaterThanOrEqual(2_000);
      expect(ranMs).toBeLessThan(4_000);
    }),
  );

  it(
    "refuses the next dispatch with 429 once the day's cost reaches MOSAIC_DAILY_COST_LIMIT_USD; the running session is not touched",
    withOutput(async () => {
      // 0.3 USD a step at the sample agent's prices ($3 per million input tokens): past the headroom on the second step.
      const running = await dispatchTask({
        metadata: { sample_agent: { steps: 4, step_ms: 300, usage_per_step: { input_tokens: 100_000, output_tokens: 0 } } },
      });
      const session = await waitForEnd(running);
      expect(session.status).toBe('completed');
      expect(session.usage.cost_usd).toBeCloseTo(1.2, 6);
      const next = await call<{ id: string }>('POST', '/tasks', { title: 'one too many' });
      const refused = await call<{ error: { code: string; message: string } }>('POST', `/tasks/${next.body.id}/dispatch`);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('daily_budget_exhausted');
      const today = await call<{ cost_usd: number; daily_cost_limit_usd: number }>('GET', '/usage/today');
      expect(today.body.cost_usd).toBeGreaterThanOrEqual(today.body.daily_cost_limit_usd);
    }),
  );
});
