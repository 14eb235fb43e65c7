import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { OrchestratorGatewayModule } from '../orchestrator-gateway/orchestrator-gateway.module';
import { ReconciliationRepository } from './reconciliation.repository';
import { ReconciliationService } from './reconciliation.service';

/** The background loop that brings quiet sessions in line with the orchestrator. */
@Module({
  imports: [OrchestratorGatewayModule, MetricsModule],
  providers: [ReconciliationRepository, ReconciliationService],
  exports: [ReconciliationService],
})
export class ReconciliationModule {}
