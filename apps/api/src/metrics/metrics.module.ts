import { Module } from '@nestjs/common';
import { ApiMetrics } from './api-metrics';

/** The metrics registry and its counters; modules that count something import this. */
@Module({
  providers: [ApiMetrics],
  exports: [ApiMetrics],
})
export class MetricsModule {}
