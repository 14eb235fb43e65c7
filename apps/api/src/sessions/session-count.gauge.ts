import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { TRACKED_SESSION_STATUSES } from '@mosaic/orchestrator-contract';
import { ApiMetrics } from '../metrics/api-metrics';
import { OrchestratorSessionRepository } from './session.repository';

/** `mosaic_sessions`, read at scrape time, so it is never stale and costs nothing between scrapes. */
@Injectable()
export class SessionCountGauge {
  private readonly logger = new Logger(SessionCountGauge.name);

  constructor(metrics: ApiMetrics, sessions: OrchestratorSessionRepository) {
    const logger = this.logger;
    new Gauge({
      name: 'mosaic_sessions',
      help: 'Tracked sessions by status',
      labelNames: ['status'] as const,
      registers: [metrics.registry],
      async collect() {
        this.reset();
        try {
          const counts = await sessions.countByStatus();
          for (const status of TRACKED_SESSION_STATUSES) this.set({ status }, counts[status]);
        } catch (error) {
          // The rest of the scrape is still worth having; a missing series says the count failed.
          logger.warn(`could not count sessions for /metrics: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
    });
  }
}
