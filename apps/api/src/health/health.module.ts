import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { OrchestratorGatewayModule } from '../orchestrator-gateway/orchestrator-gateway.module';
import { DatabaseHealthIndicator } from './database.health';
import { HealthController } from './health.controller';
import { OrchestratorHealthIndicator } from './orchestrator.health';

/** `/health` and `/health/orchestrator`. Needs `ApiConfig` and `PrismaService` from the global scope. */
@Module({
  // One JSON line per failed check, instead of terminus's multi-line pretty print.
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json' }), OrchestratorGatewayModule],
  controllers: [HealthController],
  providers: [DatabaseHealthIndicator, OrchestratorHealthIndicator],
})
export class HealthModule {}
