import { Module } from '@nestjs/common';
import { BudgetsModule } from '../budgets/budgets.module';
import { MetricsModule } from '../metrics/metrics.module';
import { SessionsModule } from '../sessions/sessions.module';
import { CallbackController } from './callback.controller';
import { CallbackIngestionService } from './callback-ingestion.service';
import { CallbackMetricsHook } from './callback-metrics.hook';

/** The callback endpoint (docs/contract.md §3); sessions store what it takes in. */
@Module({
  imports: [SessionsModule, MetricsModule, BudgetsModule],
  controllers: [CallbackController],
  providers: [CallbackIngestionService, CallbackMetricsHook],
})
export class CallbacksModule {}
