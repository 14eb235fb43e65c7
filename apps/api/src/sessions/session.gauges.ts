import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { TRACKED_SESSION_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { ApiConfig } from '../config/api-config';
import { ApiMetrics } from '../metrics/api-metrics';
import { OrchestratorSessionRepository } from './session.repository';

/** The sessions' gauges, read at scrape time. */
@Injectable()
export class SessionGauges {
  private readonly logger = new Logger(SessionGauges.name);
  private count: { readonly at: number; readonly counts: Promise<Record<TrackedSessionStatus, number>> } | undefined;

  constructor(
    private readonly config: ApiConfig,
    metrics: ApiMetrics,
    sessions: OrchestratorSessionRepository,
  ) {
    const counted = () => this.countsNow(sessions);
    const logger = this.logger;
    new Gauge({
      name: 'mosaic_sessions',
      help: 'Tracked sessions by status (a count serves scrapes for METRICS_SESSION_COUNT_MAX_AGE_MS)',
      labelNames: ['status'] as const,
      registers: [metrics.registry],
      async collect() {
        this.reset();
        try {
          const counts = await counted();
          for (const status of TRACKED_SESSION_STATUSES) this.set({ status }, counts[status]);
        } catch (error) {
          // The rest of the scrape is still worth having; a missing series says the count failed.
          logger.warn(`could not count sessions for /metrics: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
    });
  }

  /** The last count while it is young enough, else a new one; scrapes that arrive together share one query. */
  private countsNow(sessions: OrchestratorSessionRepository): Promise<Record<TrackedSessionStatus, number>> {
    const now = Date.now();
    if (this.count === undefined || now - this.count.at >= this.config.sessionCountMaxAgeMs) {
      const counts = sessions.countByStatus();
      this.count = { at: now, counts };
      // A failed count is not kept: the next scrape tries again.
      counts.catch(() => {
        if (this.count?.counts === counts) this.count = undefined;
      });
    }
    return this.count.counts;
  }
}
