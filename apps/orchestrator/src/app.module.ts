import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { ApiKeyGuard } from './auth/api-key.guard';
import { CallbackDelivery } from './callbacks/callback-delivery';
import { OrchestratorConfig } from './config/orchestrator-config';
import { HealthController } from './health/health.controller';
import { ErrorFilter } from './http/error.filter';
import { MetricsController } from './metrics/metrics.controller';
import { OrchestratorMetrics } from './metrics/orchestrator-metrics';
import { RequestMetricsHook } from './metrics/request-metrics.hook';
import { loggerParams } from '@mosaic/observability';
import { SessionGauges } from './sessions/session-gauges';
import { SessionsController } from './sessions/sessions.controller';
import { SessionsService } from './sessions/sessions.service';

@Module({})
export class AppModule {
  /** The configuration is loaded before the module exists, so that a bad environment stops start-up with a plain message. */
  static register(config: OrchestratorConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [LoggerModule.forRoot(loggerParams(config.logLevel))],
      controllers: [HealthController, SessionsController, MetricsController],
      providers: [
        { provide: OrchestratorConfig, useValue: config },
        { provide: APP_FILTER, useClass: ErrorFilter },
        ApiKeyGuard,
        CallbackDelivery,
        SessionsService,
        OrchestratorMetrics,
        SessionGauges,
        RequestMetricsHook,
      ],
    };
  }
}
