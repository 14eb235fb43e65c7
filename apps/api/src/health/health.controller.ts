import { Controller, Get, UseFilters } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { DatabaseHealthIndicator } from './database.health';
import { HealthReportFilter } from './health-report.filter';
import { OrchestratorHealthIndicator } from './orchestrator.health';

/** Open endpoints (contract section 4): 200 when every check is up, 503 with terminus's report otherwise. */
@Controller('health')
@UseFilters(HealthReportFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly orchestrator: OrchestratorHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.isHealthy(), () => this.orchestrator.isHealthy()]);
  }

  @Get('orchestrator')
  @HealthCheck()
  checkOrchestrator(): Promise<HealthCheckResult> {
    return this.health.check([() => this.orchestrator.isHealthy()]);
  }
}
