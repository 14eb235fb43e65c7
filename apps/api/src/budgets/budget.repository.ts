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

  /** What all agents spent today (UTC), by when the API stored their usage. */
  async spentToday(): Promise<Usage & { day: string }> {
    const rows = await this.prisma.queryPg<{
      day: string;
      input_tokens: string | null;
      output_tokens: string | null;
      cost_usd: string | null;
    }>(SPENT_TODAY, []);
    const row = rows[0];
    return {
      day: row?.day ?? new Date().toISOString().slice(0, 10),
      inputTokens: Number(row?.input_tokens ?? 0),
      outputTokens: Number(row?.output_tokens ?? 0),
      costUsd: Number(row?.cost_usd ?? 0),
    };
  }
}

const CLAIM_OVERDUE = prepared(`
  UPDATE orchestrator_sessions AS s SET budget_exceeded_at = now(), updated_at = now()
    FROM tasks AS t
   WHERE t.id = s.task_id AND s.status = 'running' AND s.budget_exceeded_at IS NULL
     AND t.budget_max_duration_s IS NOT NULL AND s.started_at + make_interval(secs => t.budget_max_duration_s) < now()
  RETURNING s.id, t.budget_max_duration_s AS max, extract(epoch FROM now() - s.started_at)::text AS used`);

const SPENT_TODAY = prepared(`
  SELECT to_char(day.day, 'YYYY-MM-DD') AS day, d.input_tokens::text, d.output_tokens::text, d.cost_usd::text
    FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS day) AS day
    LEFT JOIN daily_usage AS d ON d.day = day.day`);
