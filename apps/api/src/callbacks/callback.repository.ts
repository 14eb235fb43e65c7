import { Injectable } from '@nestjs/common';
import { type CallbackEventType, type SessionStatus, TERMINAL_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';
import { ApiConfig } from '../config/api-config';
import { PrismaService } from '../database/prisma.service';
import { databaseUnavailable } from '../database/database-errors';
import { StatementBatcher } from '../database/statement-batcher';
import { type BudgetCrossing, exceededLimit } from '../sessions/budget';
import type { TokenValidity } from '../sessions/callback-token.service';
import type { StatusReport } from '../sessions/session';
import { statusReportColumns } from '../sessions/status-report.sql';
import { AUTHENTICATES, RECORD_CALLBACKS } from './callback-batch.sql';

/** What a callback presents: the session in its path, the hash of its bearer token, and whether it carried a valid signature. */
export interface CallbackCredentials {
  readonly sessionId: string;
  readonly tokenHash: string;
  /** Checked by CallbackSigning; required of a session dispatched with a signing secret. */
  readonly signed: boolean;
}

/** A callback event as the orchestrator sent it, ready to be stored. */
export interface IncomingSessionEvent {
  readonly eventId: string;
  readonly orchestratorSessionId: string;
  readonly sequence: number;
  readonly type: CallbackEventType;
  readonly status: SessionStatus | null;
  readonly occurredAt: string;
  readonly data: Record<string, unknown>;
  /** An artifact event's content (base64), stored apart from its event so that `data` stays small. */
  readonly contentBase64?: string;
}

/**
 * - `stored`: new, and applied to the session;
 * - `duplicate`: an event with this id was stored before, nothing changed;
 * - `foreign`: the event names an orchestrator session other than this
 *   session's (or one another session already has), nothing stored;
 * - `unauthorized`: no such session, or the token is not (or no longer) its
 *   token; nothing stored.
 */
export type EventOutcome = 'stored' | 'duplicate' | 'foreign' | 'unauthorized';

/** One callback to store: who presents it, the token rule it must pass, its event and the status it reports. */
export interface CallbackRecord {
  readonly credentials: CallbackCredentials;
  readonly validity: TokenValidity;
  readonly event: IncomingSessionEvent;
  readonly report: StatusReport | undefined;
}

/** What storing a callback did; `moved` says from where, when its report moved the session (and its task). */
export interface RecordedEvent {
  readonly outcome: EventOutcome;
  readonly moved?: { readonly from: TrackedSessionStatus; readonly taskId: string };
  /** Set when this event took the session past its task's budget: the statement that stored it claimed the crossing. */
  readonly budgetCrossed?: BudgetCrossing;
}

/** One per callback of a batch, in the batch's order (the answer of callback-batch.sql.ts). */
interface RecordedRow {
  found: boolean;
  owned: boolean;
  inserted: boolean;
  moved_from: TrackedSessionStatus | null;
  task_id: string | null;
  crossed: boolean;
  input_tokens: string | null;
  output_tokens: string | null;
  cost_usd: string | null;
  budget_max_tokens: string | null;
  budget_max_cost_usd: string | null;
}

/**
 * Recording statements running at once: one running while the next batch
 * gathers. More would run more, smaller statements at a few dozen callbacks
 * in flight; each statement costs a commit and the API's per-query work, so
 * at 10 connections 4 statements in flight stored about 15 % fewer callbacks
 * per second than 2 (docs/performance.md).
 */
export const MAX_RECORDING_BATCHES = 2;
const MAX_BATCH_SIZE = 200;

/**
 * Callbacks that may wait to be stored at once. Past it a callback is answered
 * 503 at once and its sender retries later: what waits stays bounded (at most
 * 64 KiB a body, and MAX_ARTIFACTS_IN_FLIGHT artifacts) whatever the database does, about half a second of work at
 * the rates measured in docs/performance.md.
 */
export const MAX_QUEUED_CALLBACKS = 1_000;

/**
 * Longest a callback waits to be stored before it is answered 503: half the
 * orchestrator's default callback timeout (CALLBACK_TIMEOUT_MS, 10 s), so the
 * orchestrator reads the 503 and its Retry-After instead of timing out, and
 * retries the same event later.
 */
export const CALLBACK_MAX_WAIT_MS = 5_000;

/**
 * Stores callbacks: each checked against its session's token, stored once, and
 * applied to its session, its task and the day's usage by one statement
 * (callback-batch.sql.ts). Callbacks that arrive while others are being stored
 * are stored together by the next statement (group commit, see StatementBatcher).
 */
@Injectable()
export class CallbackRepository {
  private readonly recorder = new StatementBatcher<CallbackRecord, RecordedEvent>({
    maxInFlight: MAX_RECORDING_BATCHES,
    maxBatchSize: MAX_BATCH_SIZE,
    keyOf: (record) => record.credentials.sessionId,
    run: (records) => this.recordBatch(records),
    maxQueued: MAX_QUEUED_CALLBACKS,
    overloaded: () => new AppError('at_capacity', 'too many callbacks are waiting to be stored; retry later'),
    maxWaitMs: CALLBACK_MAX_WAIT_MS,
    waitedTooLong: databaseUnavailable,
    // Values the database would refuse are refused by validation first; a timeout or a lost connection is nobody's item.
    retryAlone: (error) => !(error instanceof AppError && error.code === 'database_unavailable'),
  });

  constructor(
    private readonly prisma: PrismaService,
    private readonly config: ApiConfig,
  ) {}

  /** Whether `credentials` hold the session's token, valid by `validity`. Only for callbacks refused anyway. */
  async authenticates(credentials: CallbackCredentials, validity: TokenValidity): Promise<boolean> {
    const rows = await this.prisma.queryPg(AUTHENTICATES, [
      credentials.sessionId,
      credentials.tokenHash,
      validity.expiresAfter.toISOString(),
      validity.endedAfter.toISOString(),
      TERMINAL_STATUSES,
      credentials.signed,
    ]);
    return rows.length > 0;
  }

  /**
   * Stores a callback's event once per (session, event id) if the credentials
   * hold the session's valid token and, if it was new, advances the session's
   * sequence and applies the report, in one statement (so a stored status
   * event is never left unapplied), run on `pg` directly rather than through
   * Prisma, whose per-query CPU cost bounded the callback rate (docs/performance.md).
   */
  record(record: CallbackRecord, signal?: AbortSignal): Promise<RecordedEvent> {
    return this.recorder.submit(record, signal);
  }

  /** Callbacks waiting to be stored (a gauge of /metrics). */
  get queuedCallbacks(): number {
    return this.recorder.queued;
  }

  private async recordBatch(records: readonly CallbackRecord[]): Promise<RecordedEvent[]> {
    const rows = await this.prisma.queryPg<RecordedRow>(RECORD_CALLBACKS, [
      ...recordColumns(records),
      this.config.budgets.sessionSpendCeilingUsd,
    ]);
    return rows.map(recordedEvent);
  }
}

/** The statement's parameters: the terminal statuses, then one array per EVENT_COLUMNS column (callback-batch.sql.ts). */
function recordColumns(records: readonly CallbackRecord[]): unknown[] {
  const column = (value: (record: CallbackRecord) => unknown) => records.map(value);
  return [
    TERMINAL_STATUSES,
    column((record) => record.credentials.sessionId),
    column((record) => record.credentials.tokenHash),
    column((record) => record.validity.expiresAfter.toISOString()),
    column((record) => record.validity.endedAfter.toISOString()),
    column((record) => record.credentials.signed),
    column((record) => record.event.orchestratorSessionId),
    column((record) => record.event.eventId),
    column((record) => record.event.sequence),
    column((record) => record.event.type),
    column((record) => record.event.status),
    column((record) => record.event.occurredAt),
    column((record) => JSON.stringify(record.event.data)),
    column((record) => record.event.contentBase64 ?? null),
    ...statusReportColumns(records.map((record) => record.report)),
  ];
}

function recordedEvent(row: RecordedRow): RecordedEvent {
  if (!row.found) return { outcome: 'unauthorized' };
  if (!row.owned) return { outcome: 'foreign' };
  if (!row.inserted) return { outcome: 'duplicate' };
  return {
    outcome: 'stored',
    ...(row.moved_from !== null && row.task_id !== null ? { moved: { from: row.moved_from, taskId: row.task_id } } : {}),
    ...(row.crossed ? { budgetCrossed: budgetCrossingOf(row) } : {}),
  };
}

function budgetCrossingOf(row: RecordedRow): BudgetCrossing {
  const usage = { inputTokens: Number(row.input_tokens), outputTokens: Number(row.output_tokens), costUsd: Number(row.cost_usd) };
  const budget = {
    ...(row.budget_max_tokens === null ? {} : { maxTokens: Number(row.budget_max_tokens) }),
    ...(row.budget_max_cost_usd === null ? {} : { maxCostUsd: Number(row.budget_max_cost_usd) }),
  };
  const crossing = exceededLimit(budget, usage);
  if (crossing === undefined) throw new Error('the database claimed a budget crossing that the usage does not show');
  return crossing;
}
