import { Injectable } from '@nestjs/common';
import type { CallbackEventType, ErrorCode } from '@mosaic/orchestrator-contract';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a spawn request ended: a new session, a replay of an earlier one, or the error code it was refused with. */
export type SpawnOutcome = 'started' | 'replayed' | ErrorCode;

/** What became of one callback event: accepted, refused for good (4xx), refused as unauthorized (401: the session's delivery stops), or given up on after retries. */
export type DeliveryOutcome = 'delivered' | 'refused' | 'unauthorized' | 'gave_up';

/** Why an agent's log line was not sent: over the session's rate limit, or while its callback queue was full. */
export type LogLineDropReason = 'rate_limit' | 'queue_full';

/** The orchestrator's Prometheus metrics, in a registry of its own rather than prom-client's global one. */
@Injectable()
export class OrchestratorMetrics {
  readonly registry = new Registry();

  private readonly spawns = new Counter({
    name: 'orchestrator_spawns_total',
    help: 'Spawn requests by outcome: started, replayed (same Idempotency-Key and body), or the error code of the refusal',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly deliveries = new Counter({
    name: 'orchestrator_callback_deliveries_total',
    help: 'Callback events by type and what became of them: delivered, refused (4xx, dropped), unauthorized (401) or gave_up (after retries)',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly queuedCallbackBytes = new Gauge({
    name: 'orchestrator_callback_queue_bytes',
    help: 'Bytes of callback events waiting for delivery (queued or being retried), all sessions together; each session holds back its output past 1 MiB',
    registers: [this.registry],
  });

  private readonly droppedLogLines = new Counter({
    name: 'orchestrator_agent_log_lines_dropped_total',
    help: "Agents' log lines not sent, by reason: rate_limit (over LOG_LINES_PER_SECOND) or queue_full (the session's callbacks were not being delivered)",
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly rejectedSpoolRecords = new Counter({
    name: 'orchestrator_spool_records_rejected_total',
    help: "Records in agents' spools that their supervisors did not write (a wrong MAC, or a copy): dropped, never turned into events",
    registers: [this.registry],
  });

  private readonly requests = new Histogram({
    name: 'orchestrator_http_request_duration_seconds',
    help: 'HTTP requests served, by route pattern (`unmatched` for no route), method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  spawnAnswered(outcome: SpawnOutcome): void {
    this.spawns.inc({ outcome });
  }

  callbackDelivery(type: CallbackEventType, outcome: DeliveryOutcome): void {
    this.deliveries.inc({ type, outcome });
  }

  /** `bytes` more (or, negative, fewer) callback bytes wait for delivery. */
  callbackQueueBytes(bytes: number): void {
    this.queuedCallbackBytes.inc(bytes);
  }

  logLineDropped(reason: LogLineDropReason): void {
    this.droppedLogLines.inc({ reason });
  }

  spoolRecordRejected(): void {
    this.rejectedSpoolRecords.inc();
  }

  requestServed(route: string, method: string, status: number, seconds: number): void {
    this.requests.observe({ route, method, status: String(status) }, seconds);
  }
}
