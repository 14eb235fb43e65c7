import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UsageData } from '@mosaic/orchestrator-contract';

export type OrchestratorOperation = 'spawn' | 'status' | 'kill' | 'cancel' | 'list' | 'health';

const MAX_MODEL_LABELS = 100;

/** The live streams: one session's events, or every session's changes. */
export type EventStreamKind = 'session_events' | 'sessions';

/** Which cap refused a stream: its key's, its client address's, or this process's in all. */
export type StreamRefusal = 'per_key' | 'per_address' | 'total';

/** What one reconciliation run did, as the counters need it. */
export interface ReconciliationCounts {
  /** `false` when another API process held the lock. */
  readonly ran: boolean;
  /** Sessions whose status moved, the lost ones included. */
  readonly changed: number;
  readonly lost: number;
}

/**
 * The API's Prometheus metrics. Each application has its own registry, so
 * several apps in one process (the tests build many) count separately. The
 * features count through these methods with plain values; a feature's gauges,
 * read at scrape time, register on `registry` from its own module.
 */
@Injectable()
export class ApiMetrics {
  readonly registry = new Registry();

  private readonly orchestratorCalls = new Histogram({
    name: 'mosaic_orchestrator_call_duration_seconds',
    help: 'Calls to the orchestrator, retries and backoff included, by operation and outcome (ok or the failure the caller got)',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly callbacks = new Counter({
    name: 'mosaic_callbacks_total',
    help: 'Callback requests by event type (`unknown` when the body was not a known event) and HTTP answer',
    labelNames: ['type', 'answer'] as const,
    registers: [this.registry],
  });

  private readonly reconciliationRuns = new Counter({
    name: 'mosaic_reconciliation_runs_total',
    help: 'Reconciliation runs of this process: completed, skipped (another process held the lock) or failed',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly reconciliationFixes = new Counter({
    name: 'mosaic_reconciliation_fixes_total',
    help: "Sessions reconciliation moved: to the orchestrator's status (changed) or to failed because the orchestrator lost them (lost)",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly openStreams = new Gauge({
    name: 'mosaic_event_streams',
    help: 'Server-Sent Events streams open on this process, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly endedStreams = new Counter({
    name: 'mosaic_event_streams_ended_total',
    help: 'Server-Sent Events streams that ended, by kind and how: ended (after their last event, or at shutdown), expired (at their maximum life), revoked (with their operator key), closed by the client, or cut (the client read too slowly)',
    labelNames: ['kind', 'how'] as const,
    registers: [this.registry],
  });

  private readonly refusedStreams = new Counter({
    name: 'mosaic_event_streams_refused_total',
    help: 'Server-Sent Events streams refused at a cap, by the cap: per_key, per_address or total',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly models = new Set<string>();

  private readonly usageTokens = new Counter({
    name: 'mosaic_usage_tokens_total',
    help: 'Tokens agents reported spending (usage events stored by this process), by model (`unknown` when unnamed) and kind (input or output)',
    labelNames: ['model', 'kind'] as const,
    registers: [this.registry],
  });

  private readonly usageCost = new Counter({
    name: 'mosaic_usage_cost_usd_total',
    help: 'US dollars agents reported spending (usage events stored by this process), by model (`unknown` when unnamed)',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Starts timing one orchestrator call; the returned function records how it ended (`ok` or the failure the caller got). */
  startOrchestratorCall(operation: OrchestratorOperation): (outcome: string) => void {
    const end = this.orchestratorCalls.startTimer({ operation });
    return (outcome) => end({ outcome });
  }

  callbackAnswered(type: string, status: number): void {
    this.callbacks.inc({ type, answer: String(status) });
  }

  reconciliationRan(run: ReconciliationCounts): void {
    this.reconciliationRuns.inc({ outcome: run.ran ? 'completed' : 'skipped' });
    // `changed` counts the lost ones too; the metric keeps the two apart.
    this.reconciliationFixes.inc({ result: 'changed' }, run.changed - run.lost);
    this.reconciliationFixes.inc({ result: 'lost' }, run.lost);
  }

  /** Counts a stream open; the returned function counts how it ended. */
  streamOpened(kind: EventStreamKind): (how: string) => void {
    this.openStreams.inc({ kind });
    return (how) => {
      this.openStreams.dec({ kind });
      this.endedStreams.inc({ kind, how });
    };
  }

  streamRefused(reason: StreamRefusal): void {
    this.refusedStreams.inc({ reason });
  }

  /** Counts one stored usage event (a duplicate is not stored, so not counted). */
  usageReported(usage: UsageData): void {
    const model = this.modelLabel(usage.model);
    if (usage.input_tokens !== undefined) this.usageTokens.inc({ model, kind: 'input' }, usage.input_tokens);
    if (usage.output_tokens !== undefined) this.usageTokens.inc({ model, kind: 'output' }, usage.output_tokens);
    if (usage.cost_usd !== undefined) this.usageCost.inc({ model }, usage.cost_usd);
  }

  /** Agents name their models: past MAX_MODEL_LABELS names, the rest count as `other`, so that no agent can grow the metrics without bound. */
  private modelLabel(model: string | undefined): string {
    if (model === undefined) return 'unknown';
    if (this.models.has(model) || this.models.size < MAX_MODEL_LABELS) {
      this.models.add(model);
      return model;
    }
    return 'other';
  }

  reconciliationFailed(): void {
    this.reconciliationRuns.inc({ outcome: 'failed' });
  }
}
