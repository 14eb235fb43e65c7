import { applyDecorators, Controller, Get, UseFilters } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { HEALTH_EXAMPLES, wireSchemaRef } from '@mosaic/orchestrator-contract';
import { DatabaseHealthIndicator } from './database.health';
import { HealthReportFilter } from './health-report.filter';
import { OrchestratorHealthIndicator } from './orchestrator.health';

/**
 * The report with 200 and 503 alike. Terminus's own documentation shows a
 * made-up example; these show what this API reports. On each operation, since
 * an operation's own default 200 hides its controller's.
 */
function ApiHealthReport(): MethodDecorator {
  const report = (example: unknown) => ({ 'application/json': { schema: wireSchemaRef('HealthReport'), example } });
  return applyDecorators(
    ApiResponse({ status: 200, description: 'every check is up', content: report(HEALTH_EXAMPLES.healthy) }),
    ApiResponse({ status: 503, description: 'a check is down', content: report(HEALTH_EXAMPLES.unhealthy) }),
  );
}

/** Open endpoints (docs/contract.md §4): 200 when every check is up, 503 with terminus's report otherwise. */
@ApiTags('health')
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
  @ApiHealthReport()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.isHealthy(), () => this.orchestrator.isHealthy()]);
  }

  @Get('orchestrator')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Orchestrator reachability and latency' })
  @ApiHealthReport()
  checkOrchestrator(): Promise<HealthCheckResult> {
    return this.health.check([() => this.orchestrator.isHealthy()]);
  }
}
