import { reportColumnSql, reportMoves } from '../sessions/status-report.sql';

/*
 * The usage and budget accounting of the callback batch (callbacks/callback-batch.sql.ts): CTEs that read the
 * batch's `input` rows and the CTEs named in their headers.
 */

/**
 * Usage totals: what each new event adds to its session's usage (a usage event its tokens and cost, any other
 * nothing) and the session's totals after it; also whether its report moves the session (status-report.sql.ts),
 * worked out once here for the budget claim and the status move, and how much of its cost counts against the day:
 * a session's cost counts up to its share, the lower of its task's max_cost_usd and `sessionCeilingUsd`, so that one
 * wrong report cannot spend the day (LEAST skips a task's NULL budget).
 * Input: owned (n, id, task_id, status, input_tokens, output_tokens, cost_usd, budget_exceeded_at,
 * budget_max_tokens, budget_max_cost_usd), inserted (session_id), input (type, data, the report columns);
 * `sessionCeilingUsd` the parameter of SESSION_SPEND_CEILING_USD.
 * Output: spent(n, id, task_id, status, budget_exceeded_at, budget_max_tokens, budget_max_cost_usd, moves,
 * input_tokens, output_tokens, cost_usd, added_input_tokens, added_output_tokens, added_cost_usd,
 * added_counted_cost_usd), one row per new event.
 */
export const usageTotals = (sessionCeilingUsd: string) => `spent AS (
      SELECT o.n, o.id, o.task_id, o.status, o.budget_exceeded_at, o.budget_max_tokens, o.budget_max_cost_usd,
             ${reportMoves('o.status', reportColumnSql('i'))} AS moves,
             o.input_tokens + u.input_tokens AS input_tokens, o.output_tokens + u.output_tokens AS output_tokens, o.cost_usd + u.cost_usd AS cost_usd,
             u.input_tokens AS added_input_tokens, u.output_tokens AS added_output_tokens, u.cost_usd AS added_cost_usd,
             LEAST(o.cost_usd + u.cost_usd, o.budget_max_cost_usd, ${sessionCeilingUsd})
               - LEAST(o.cost_usd, o.budget_max_cost_usd, ${sessionCeilingUsd}) AS added_counted_cost_usd
        FROM owned AS o JOIN input AS i ON i.n = o.n JOIN inserted ON inserted.session_id = o.id
        CROSS JOIN LATERAL (
          SELECT CASE WHEN i.type = 'usage' THEN COALESCE((i.data->>'input_tokens')::bigint, 0) ELSE 0 END AS input_tokens,
                 CASE WHEN i.type = 'usage' THEN COALESCE((i.data->>'output_tokens')::bigint, 0) ELSE 0 END AS output_tokens,
                 CASE WHEN i.type = 'usage' THEN COALESCE((i.data->>'cost_usd')::numeric, 0) ELSE 0 END AS cost_usd
        ) AS u
    )`;

/**
 * Budget claim: whether this event took its session past its task's budget (tokens or cost) while the session,
 * after this event's report, is still active, and no check claimed it before. The status move records the claim
 * in `budget_exceeded_at` in the same statement, so exactly one statement sees each crossing.
 * Input: spent, input (report_status); $1 the terminal statuses.
 * Output: applied(spent's columns, crossed).
 */
export const BUDGET_CLAIM = `applied AS (
      SELECT spent.*,
             -- Passed its budget with this event, while still active: claimed here, so that one statement alone sees it happen.
             spent.budget_exceeded_at IS NULL
               AND (CASE WHEN spent.moves THEN i.report_status ELSE spent.status::text END) <> ALL($1::text[])
               AND ((spent.budget_max_tokens IS NOT NULL AND spent.input_tokens + spent.output_tokens > spent.budget_max_tokens)
                 OR (spent.budget_max_cost_usd IS NOT NULL AND spent.cost_usd > spent.budget_max_cost_usd)) AS crossed
        FROM spent JOIN input AS i ON i.n = spent.n
    )`;

/**
 * Daily usage: adds the batch's usage events to today's (UTC) row of `daily_usage`, which caps dispatches: the
 * counted cost to `cost_usd`, the rest to `uncounted_cost_usd`.
 * Input: applied (n, added_input_tokens, added_output_tokens, added_cost_usd, added_counted_cost_usd), input (type).
 * Output: none; `daily_usage` changed.
 */
export const DAILY_USAGE = `daily AS (
      -- No usage in the batch, no row: the day's row is locked only by the statements that count usage.
      INSERT INTO daily_usage AS d (day, input_tokens, output_tokens, cost_usd, uncounted_cost_usd)
      SELECT (now() AT TIME ZONE 'UTC')::date, sum(a.added_input_tokens), sum(a.added_output_tokens), sum(a.added_counted_cost_usd),
             sum(a.added_cost_usd - a.added_counted_cost_usd)
        FROM applied AS a JOIN input AS i ON i.n = a.n
       WHERE i.type = 'usage'
      HAVING count(*) > 0
      ON CONFLICT (day) DO UPDATE SET input_tokens = d.input_tokens + EXCLUDED.input_tokens,
                                      output_tokens = d.output_tokens + EXCLUDED.output_tokens,
                                      cost_usd = d.cost_usd + EXCLUDED.cost_usd,
                                      uncounted_cost_usd = d.uncounted_cost_usd + EXCLUDED.uncounted_cost_usd
    )`;
