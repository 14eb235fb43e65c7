import { Injectable } from '@nestjs/common';
import { PrismaService, prepared } from '../database/prisma.service';
import type { BudgetCrossing, Usage } from '../sessions/budget';

/** A session claimed for passing its budget: the one check that claimed it enforces it. */
export interface ClaimedSession {
  readonly sessionId: string;
  readonly crossing: BudgetCrossing;
}

/** What budgets need from the database beyond what storing a callback does (callback-batch-usage.sql.ts). */
@Injectable()
export class BudgetRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Claims the running sessions that ran past their task's `max_duration_s`,
   * whether or not their agents report anything. The claim is the update of
   * `budget_exceeded_at` from NULL, so that of several API instances checking
   * at once exactly one claims each session.
   */
  async claimOverdue(): Promise<ClaimedSession[]> {
    const rows = await this.prisma.queryPg<{ id: string; max: number; used: string }>(CLAIM_OVERDUE, []);
    return rows.map((row) => ({
      sessionId: row.id,
      crossing: { limit: 'max_duration_s', max: row.max, used: Math.floor(Number(row.used)) },
    }));
  }

  /** Sessions claimed before `claimedBefore` and still active: their cancel did not go through (the API stopped, the orchestrator was down). */
  async unfinishedClaims(claimedBefore: Date): Promise<string[]> {
    const rows = await this.prisma.orchestratorSession.findMany({
      where: { budgetExceededAt: { lt: claimedBefore }, status: { in: ['spawning', 'pending', 'running'] } },
      select: { id: true },
      take: 100,
    });
    return rows.map((row) => row.id);
  }

  /** What all agents spent today (UTC), by when the API stored their usage, and the day's last reset. */
  async spentToday(): Promise<DaySpend> {
    return daySpendOf((await this.prisma.queryPg<DaySpendRow>(SPENT_TODAY, []))[0]);
  }

  /**
   * Sets today's (UTC) counters to zero, in the same statement recording who
   * did it and what it cleared (`daily_usage_resets`): the row lock orders it
   * with the callbacks that count usage, so none is lost between read and reset.
   */
  async resetToday(actor: string): Promise<DaySpend> {
    return daySpendOf((await this.prisma.queryPg<DaySpendRow>(RESET_TODAY, [actor]))[0]);
  }
}

/** A day's spend: `costUsd` counts against MOSAIC_DAILY_COST_LIMIT_USD, `uncountedCostUsd` was past sessions' shares. */
export interface DaySpend extends Usage {
  readonly day: string;
  readonly uncountedCostUsd: number;
  readonly lastReset: { readonly at: Date; readonly by: string; readonly clearedCostUsd: number } | null;
}

interface DaySpendRow {
  day: string;
  input_tokens: string | null;
  output_tokens: string | null;
  cost_usd: string | null;
  uncounted_cost_usd: string | null;
  reset_at: Date | null;
  reset_by: string | null;
  reset_cost_usd: string | null;
}

function daySpendOf(row: DaySpendRow | undefined): DaySpend {
  return {
    day: row?.day ?? new Date().toISOString().slice(0, 10),
    inputTokens: Number(row?.input_tokens ?? 0),
    outputTokens: Number(row?.output_tokens ?? 0),
    costUsd: Number(row?.cost_usd ?? 0),
    uncountedCostUsd: Number(row?.uncounted_cost_usd ?? 0),
    lastReset:
      row?.reset_at == null || row.reset_by === null
        ? null
        : { at: row.reset_at, by: row.reset_by, clearedCostUsd: Number(row.reset_cost_usd ?? 0) },
  };
}

const CLAIM_OVERDUE = prepared(`
  UPDATE orchestrator_sessions AS s SET budget_exceeded_at = now(), updated_at = now()
    FROM tasks AS t
   WHERE t.id = s.task_id AND s.status = 'running' AND s.budget_exceeded_at IS NULL
     AND t.budget_max_duration_s IS NOT NULL AND s.started_at + make_interval(secs => t.budget_max_duration_s) < now()
  RETURNING s.id, t.budget_max_duration_s AS max, extract(epoch FROM now() - s.started_at)::text AS used`);

/** A day's row (`d`) and its last reset (`r`) as DaySpendRow, `day.day` being the day. */
const DAY_SPEND_COLUMNS = `to_char(day.day, 'YYYY-MM-DD') AS day, d.input_tokens::text, d.output_tokens::text, d.cost_usd::text,
         d.uncounted_cost_usd::text, r.reset_at, r.actor AS reset_by, r.cost_usd::text AS reset_cost_usd`;
const LAST_RESET = `LEFT JOIN LATERAL (
      SELECT reset_at, actor, cost_usd FROM daily_usage_resets WHERE day = day.day ORDER BY reset_at DESC, id DESC LIMIT 1
    ) AS r ON true`;

const SPENT_TODAY = prepared(`
  SELECT ${DAY_SPEND_COLUMNS}
    FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS day) AS day
    LEFT JOIN daily_usage AS d ON d.day = day.day
    ${LAST_RESET}`);

const RESET_TODAY = prepared(`
  WITH day AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day),
  before AS (
    SELECT d.* FROM daily_usage AS d JOIN day ON d.day = day.day FOR UPDATE OF d
  ), cleared AS (
    UPDATE daily_usage AS d SET input_tokens = 0, output_tokens = 0, cost_usd = 0, uncounted_cost_usd = 0
      FROM before WHERE d.day = before.day
    RETURNING d.*
  ), audit AS (
    INSERT INTO daily_usage_resets (day, actor, input_tokens, output_tokens, cost_usd, uncounted_cost_usd)
    SELECT day.day, $1, COALESCE(b.input_tokens, 0), COALESCE(b.output_tokens, 0), COALESCE(b.cost_usd, 0), COALESCE(b.uncounted_cost_usd, 0)
      FROM day LEFT JOIN before AS b ON true
    RETURNING reset_at, actor, cost_usd
  )
  SELECT ${DAY_SPEND_COLUMNS}
    FROM day
    LEFT JOIN cleared AS d ON true
    CROSS JOIN audit AS r`);
