import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { OrchestratorClient } from './orchestrator.client';
import { TaskContextSerializer } from './task-context.serializer';

/**
 * The way to the orchestrator. One instance for the whole API, so that every
 * caller shares one circuit breaker. Needs `ApiConfig` from the global scope.
 */
@Module({
  // Its own axios instance: nothing registered on the shared default (interceptors, defaults) reaches these calls.
  imports: [HttpModule.register({}), MetricsModule],
  providers: [OrchestratorClient, TaskContextSerializer],
  exports: [OrchestratorClient, TaskContextSerializer],
})
export class OrchestratorClientModule {}
