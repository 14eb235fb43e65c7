import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { CircuitStateGauge } from './circuit-state.gauge';
import { OrchestratorClient } from './orchestrator.client';
import { TaskContextSerializer } from './task-context.serializer';

/**
 * The API's outbound boundary to the orchestrator: the HTTP client and the
 * task-context serializer. One instance for the whole API, so that every
 * caller shares one circuit breaker. Needs `ApiConfig` from the global scope.
 */
@Module({
  // Its own axios instance: nothing registered on the shared default (interceptors, defaults) reaches these calls.
  imports: [HttpModule.register({}), MetricsModule],
  providers: [OrchestratorClient, TaskContextSerializer, CircuitStateGauge],
  exports: [OrchestratorClient, TaskContextSerializer],
})
export class OrchestratorGatewayModule {}
