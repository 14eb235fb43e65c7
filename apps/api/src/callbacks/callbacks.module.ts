import { Module } from '@nestjs/common';
import { BudgetsModule } from '../budgets/budgets.module';
import { MetricsModule } from '../metrics/metrics.module';
import { SessionsModule } from '../sessions/sessions.module';
import { CallbackController } from './callback.controller';
import { CallbackGauges } from './callback.gauges';
import { CallbackIngestionService } from './callback-ingestion.service';
import { CallbackMetricsHook } from './callback-metrics.hook';
import { CallbackRepository } from './callback.repository';

/** The callback endpoint (docs/contract.md §3) and the statement that stores what it takes in. */
@Module({
  imports: [SessionsModule, MetricsModule, BudgetsModule],
  controllers: [CallbackController],
  providers: [CallbackIngestionService, CallbackMetricsHook, CallbackRepository, CallbackGauges],
})
export class CallbacksModule {}
