import { reportAssignments, reportColumnSql, reportTaskStatus } from './status-report.sql';

/*
 * The status moves of the callback batch (callbacks/callback-batch.sql.ts): CTEs that read the batch's `input`
 * rows, whose report columns are REPORT_COLUMNS, and the CTEs named in their headers.
 */

const REPORT = reportColumnSql('i');

/**
 * Move status: for each new event, advances its session's `last_sequence` and `last_event_at`, records the
 * orchestrator's session id if the spawn answer never came, stores the usage totals and the budget claim, and
 * applies the event's report as `OrchestratorSessionRepository.move` does (status-report.sql.ts).
 * Input: applied (n, id, moves, input_tokens, output_tokens, cost_usd, crossed), input (sequence,
 * orchestrator_session_id, the report columns).
 * Output: none; the sessions changed.
 */
export const MOVE_STATUS = `advanced AS (
      UPDATE orchestrator_sessions AS s
         SET last_sequence = GREATEST(s.last_sequence, i.sequence),
             last_event_at = now(),
             orchestrator_session_id = COALESCE(s.orchestrator_session_id, i.orchestrator_session_id),
             input_tokens = a.input_tokens,
             output_tokens = a.output_tokens,
             cost_usd = a.cost_usd,
             budget_exceeded_at = CASE WHEN a.crossed THEN now() ELSE s.budget_exceeded_at END,
             ${reportAssignments('a.moves', REPORT)},
             updated_at = now()
        FROM applied AS a JOIN input AS i ON i.n = a.n
       WHERE s.id = a.id
    )`;

/**
 * Move task: the task follows its session when the session moved.
 * Input: applied (n, task_id, moves), input (report_status).
 * Output: none; the tasks changed.
 */
export const MOVE_TASK = `task_moved AS (
      UPDATE tasks AS t SET status = ${reportTaskStatus(REPORT)}, updated_at = now()
        FROM applied AS a JOIN input AS i ON i.n = a.n
       WHERE t.id = a.task_id AND a.moves
    )`;
