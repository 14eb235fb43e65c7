import { Module } from '@nestjs/common';
import { OrchestratorGatewayModule } from '../orchestrator-gateway/orchestrator-gateway.module';
import { CallbackMetricsHook } from './callback-metrics.hook';
import { MetricsController } from './metrics.controller';
import { MetricsModule } from './metrics.module';
import { ScrapeGauges } from './scrape-gauges';

/** `GET /metrics`, the gauges read at scrape time, and the callback answer counter. */
@Module({
  imports: [MetricsModule, OrchestratorGatewayModule],
  controllers: [MetricsController],
  providers: [ScrapeGauges, CallbackMetricsHook],
})
export class MetricsEndpointModule {}
