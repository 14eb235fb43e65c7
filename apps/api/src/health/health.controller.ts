import { Controller, Get, UseFilters } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { DatabaseHealthIndicator } from './database.health';
import { HealthReportFilter } from './health-report.filter';
import { HEALTHY_EXAMPLE, HEALTH_REPORT_SCHEMA, UNHEALTHY_EXAMPLE } from './health-report.schema';
import { OrchestratorHealthIndicator } from './orchestrator.health';

/** Open endpoints (docs/contract.md §4): 200 when every check is up, 503 with terminus's report otherwise. */
@ApiTags('health')
// Terminus's own documentation shows a made-up example; these show what this API reports.
@ApiResponse({ status: 200, description: 'every check is up', content: { 'application/json': { schema: HEALTH_REPORT_SCHEMA, example: HEALTHY_EXAMPLE } } })
@ApiResponse({ status: 503, description: 'a check is down', content: { 'application/json': { schema: HEALTH_REPORT_SCHEMA, example: UNHEALTHY_EXAMPLE } } })
@Controller('health')
@UseFilters(HealthReportFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly orchestrator: OrchestratorHealthIndicator,
  ) {}

  @Get()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Database and orchestrator together' })
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.isHealthy(), () => this.orchestrator.isHealthy()]);
  }

  @Get('orchestrator')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Orchestrator reachability and latency' })
  checkOrchestrator(): Promise<HealthCheckResult> {
    return this.health.check([() => this.orchestrator.isHealthy()]);
  }
}
