import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { TRACKED_SESSION_STATUSES } from '@mosaic/orchestrator-contract';
import { type CircuitStateName, OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { OrchestratorSessionRepository } from '../orchestrator-gateway/session.repository';
import { ApiMetrics } from './api-metrics';

/** Isolated is a breaker held open by hand: to an alert it is as open as open. */
const CIRCUIT_STATE_VALUES: Record<CircuitStateName, number> = { closed: 0, half_open: 1, open: 2, isolated: 2 };

/** Gauges read at scrape time, so they are never stale and cost nothing between scrapes. */
@Injectable()
export class ScrapeGauges {
  private readonly logger = new Logger(ScrapeGauges.name);

  constructor(metrics: ApiMetrics, client: OrchestratorClient, sessions: OrchestratorSessionRepository) {
    new Gauge({
      name: 'mosaic_orchestrator_circuit_state',
      help: 'The orchestrator circuit breaker: 0 closed, 1 half-open, 2 open',
      registers: [metrics.registry],
      collect() {
        this.set(CIRCUIT_STATE_VALUES[client.circuitState]);
      },
    });

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
