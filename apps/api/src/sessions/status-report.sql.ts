import { isTerminalStatus } from '@mosaic/orchestrator-contract';
import { BUDGET_EXCEEDED_ERROR } from './budget';
import { statusesThatMayMoveTo } from './session-status.machine';
import type { StatusReport } from './session';

/**
 * The one way a status report moves a session in SQL: the statements that
 * move sessions (one report at a time, or a batch of callbacks) are built from
 * these pieces, so the rule is written once. A report is nine values: the statuses the
 * state machine lets it move from, the status, whether it is `running`, its
 * time, whether it is terminal, its error, its exit code, its node and its
 * queue position. A statement takes
 * them as parameters (`reportParameterSql`) or as columns of its rows
 * (`reportColumnSql`).
 */
export interface StatusReportSql {
  /** A `text[]` of session statuses. */
  readonly mayMoveFrom: string;
  readonly status: string;
  readonly running: string;
  readonly at: string;
  readonly terminal: string;
  readonly error: string;
  readonly exitCode: string;
  readonly node: string;
  readonly queuePosition: string;
}

type ReportValues = [
  mayMoveFrom: string[],
  status: string | null,
  running: boolean,
  at: string | null,
  terminal: boolean,
  error: string | null,
  exitCode: number | null,
  node: string | null,
  queuePosition: number | null,
];

/** The values of the report's nine parameters (`reportParameterSql`). */
export function statusReportParameters(report: StatusReport | undefined): ReportValues {
  if (report === undefined) return [[], null, false, null, false, null, null, null, null];
  return [
    statusesThatMayMoveTo(report.status),
    report.status,
    report.status === 'running',
    report.at.toISOString(),
    isTerminalStatus(report.status),
    report.error ?? null,
    report.exitCode ?? null,
    report.node ?? null,
    report.queuePosition ?? null,
  ];
}

/** The report as nine parameters from `$first` on. */
export function reportParameterSql(first: number): StatusReportSql {
  const [mayMoveFrom, status, running, at, terminal, error, exitCode, node, queuePosition] = Array.from(
    { length: REPORT_COLUMNS.length },
    (_, index) => `$${first + index}`,
  );
  return {
    mayMoveFrom: `${mayMoveFrom}::text[]`,
    status: `${status}::text`,
    running: `${running}::boolean`,
    at: `${at}::timestamptz`,
    terminal: `${terminal}::boolean`,
    error: `${error}::text`,
    exitCode: `${exitCode}::int`,
    node: `${node}::text`,
    queuePosition: `${queuePosition}::int`,
  };
}

/** The nine columns `statusReportColumns` fills, in its order, with their SQL types. */
export const REPORT_COLUMNS = [
  ['may_move_from', 'text'],
  ['report_status', 'text'],
  ['report_running', 'boolean'],
  ['report_at', 'timestamptz'],
  ['report_terminal', 'boolean'],
  ['report_error', 'text'],
  ['report_exit_code', 'int'],
  ['report_node', 'text'],
  ['report_queue_position', 'int'],
] as const;

/** The report as the `REPORT_COLUMNS` of the row aliased `row`. */
export function reportColumnSql(row: string): StatusReportSql {
  const [mayMoveFrom, status, running, at, terminal, error, exitCode, node, queuePosition] = REPORT_COLUMNS.map(
    ([column]) => `${row}.${column}`,
  );
  // An array of arrays would have to be rectangular, so each row's statuses travel as one array literal.
  return {
    mayMoveFrom: `${mayMoveFrom}::text[]`,
    status: status!,
    running: running!,
    at: at!,
    terminal: terminal!,
    error: error!,
    exitCode: exitCode!,
    node: node!,
    queuePosition: queuePosition!,
  };
}

/** Nine arrays, one element per report, to be unnested into the `REPORT_COLUMNS`. */
export function statusReportColumns(reports: readonly (StatusReport | undefined)[]): unknown[][] {
  const columns: unknown[][] = REPORT_COLUMNS.map(() => []);
  for (const report of reports) {
    const values = statusReportParameters(report);
    values.forEach((value, index) => columns[index]!.push(index === 0 ? `{${(value as string[]).join(',')}}` : value));
  }
  return columns;
}

/** Whether a session in `status` moves on `report`. */
export function reportMoves(status: string, report: StatusReportSql): string {
  return `${status} = ANY(${report.mayMoveFrom}::session_status[])`;
}

/**
 * The SET assignments of `orchestrator_sessions` (aliased `s`) that apply the report when `moves` holds.
 * A session cancelled after it passed its budget ends with the error `budget_exceeded`, whichever report of the
 * cancel (the orchestrator's answer or its callback) comes first.
 * Node and queue position are facts about where the session is rather than steps of its life, so a report
 * that does not move the session still updates them: a node whenever one is named, a queue position from a
 * `pending` report while the session is still pending. Leaving `pending` clears the position, which means
 * nothing any more.
 */
export function reportAssignments(moves: string, report: StatusReportSql): string {
  const { status, running, at, terminal, error, exitCode, node, queuePosition } = report;
  return `status = CASE WHEN ${moves} THEN ${status}::session_status ELSE s.status END,
           started_at = CASE WHEN ${moves} AND ${running} THEN ${at} ELSE s.started_at END,
           ended_at = CASE WHEN ${moves} AND ${terminal} THEN ${at} ELSE s.ended_at END,
           active_task_id = CASE WHEN ${moves} AND ${terminal} THEN NULL ELSE s.active_task_id END,
           error = CASE WHEN ${moves} AND ${status} = 'cancelled' AND s.budget_exceeded_at IS NOT NULL THEN '${BUDGET_EXCEEDED_ERROR}'
                        WHEN ${moves} AND ${error} IS NOT NULL THEN ${error} ELSE s.error END,
           exit_code = CASE WHEN ${moves} AND ${exitCode} IS NOT NULL THEN ${exitCode} ELSE s.exit_code END,
           node = COALESCE(${node}, s.node),
           queue_position = CASE WHEN ${status} = 'pending' AND ${moves} THEN ${queuePosition}
                                 WHEN ${status} = 'pending' AND s.status = 'pending' THEN COALESCE(${queuePosition}, s.queue_position)
                                 WHEN ${moves} THEN NULL
                                 ELSE s.queue_position END`;
}

/** The task's new status, when its session moved on `report`. */
export function reportTaskStatus(report: StatusReportSql): string {
  return `${report.status}::task_status`;
}
