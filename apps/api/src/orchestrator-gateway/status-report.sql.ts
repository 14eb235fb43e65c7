import { isTerminalStatus } from '@mosaic/orchestrator-contract';
import { statusesThatMayMoveTo } from './session-status.machine';
import type { StatusReport } from './session';

/**
 * The pieces that let one SQL statement apply a status report as
 * `applyStatusIn` does (the spawn answer, a callback), so that those
 * statements write the rule once. A report takes seven parameters from `$first`
 * on, in the order `statusReportParameters` gives them: the statuses the state
 * machine lets it move from, the status, whether it is `running`, its time,
 * whether it is terminal, its error and its exit code.
 */
export function statusReportParameters(report: StatusReport | undefined): unknown[] {
  if (report === undefined) return [[], null, false, null, false, null, null];
  return [
    statusesThatMayMoveTo(report.status),
    report.status,
    report.status === 'running',
    report.at.toISOString(),
    isTerminalStatus(report.status),
    report.error ?? null,
    report.exitCode ?? null,
  ];
}

/** Whether a session in `status` moves on the report whose parameters start at `$first`. */
export function reportMoves(status: string, first: number): string {
  return `${status} = ANY($${first}::text[]::session_status[])`;
}

/** The SET assignments of `orchestrator_sessions` (aliased `s`) that apply the report when `moves` holds. */
export function reportAssignments(moves: string, first: number): string {
  const [, status, running, at, terminal, error, exitCode] = Array.from({ length: 7 }, (_, index) => `$${first + index}`);
  return `status = CASE WHEN ${moves} THEN ${status}::session_status ELSE s.status END,
           started_at = CASE WHEN ${moves} AND ${running}::boolean THEN ${at}::timestamptz ELSE s.started_at END,
           ended_at = CASE WHEN ${moves} AND ${terminal}::boolean THEN ${at}::timestamptz ELSE s.ended_at END,
           active_task_id = CASE WHEN ${moves} AND ${terminal}::boolean THEN NULL ELSE s.active_task_id END,
           error = CASE WHEN ${moves} AND ${error}::text IS NOT NULL THEN ${error}::text ELSE s.error END,
           exit_code = CASE WHEN ${moves} AND ${exitCode}::int IS NOT NULL THEN ${exitCode}::int ELSE s.exit_code END`;
}

/** The task's new status, when its session moved on the report whose parameters start at `$first`. */
export function reportTaskStatus(first: number): string {
  return `$${first + 1}::text::task_status`;
}
