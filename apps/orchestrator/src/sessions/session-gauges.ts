import { Injectable } from '@nestjs/common';
import { SESSION_STATUSES } from '@mosaic/orchestrator-contract';
import { Gauge } from 'prom-client';
import { OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import { SessionsService } from './sessions.service';

/** Gauges read from the sessions at scrape time, so they are never stale. */
@Injectable()
export class SessionGauges {
  constructor(metrics: OrchestratorMetrics, sessions: SessionsService) {
    new Gauge({
      name: 'orchestrator_sessions',
      help: 'Sessions this process knows, by status (an ended one until SESSION_RETENTION_MS after it ended)',
      labelNames: ['status'] as const,
      registers: [metrics.registry],
      collect() {
        const counts = sessions.countByStatus();
        for (const status of SESSION_STATUSES) this.set({ status }, counts[status]);
      },
    });
    new Gauge({
      name: 'orchestrator_agent_processes_running',
      help: 'Agent processes (process groups) running now',
      registers: [metrics.registry],
      collect() {
        this.set(sessions.activeSessions());
      },
    });
  }
}
