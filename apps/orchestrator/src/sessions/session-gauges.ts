import { Injectable } from '@nestjs/common';
import { SESSION_STATUSES } from '@mosaic/orchestrator-contract';
import { Gauge } from 'prom-client';
import { OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import { SessionRunner } from '../agents/session-runner';
import { SessionsService } from './sessions.service';

/** Gauges read from the sessions at scrape time, so they are never stale. */
@Injectable()
export class SessionGauges {
  constructor(metrics: OrchestratorMetrics, sessions: SessionsService, runner: SessionRunner) {
    new Gauge({
      name: 'orchestrator_sessions',
      help: 'Sessions the cluster knows, by status (an ended one until SESSION_RETENTION_MS after it ended)',
      labelNames: ['status'] as const,
      registers: [metrics.registry],
      async collect() {
        const counts = await sessions.countByStatus();
        for (const status of SESSION_STATUSES) this.set({ status }, counts[status]);
      },
    });
    new Gauge({
      name: 'orchestrator_agent_processes_running',
      help: 'Agent processes (process groups) running now on this node',
      registers: [metrics.registry],
      collect() {
        this.set(runner.activeSessions);
      },
    });
  }
}
