import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { CallbacksModule } from './callbacks/callbacks.module';
import { ApiConfig } from './config/api-config';
import { DatabaseModule } from './database/database.module';
import { DispatcherModule } from './dispatcher/dispatcher.module';
import { HealthModule } from './health/health.module';
import { MetricsEndpointModule } from './metrics/metrics-endpoint.module';
import { loggerParams } from '@mosaic/observability';
import { OrchestratorGatewayModule } from './orchestrator-gateway/orchestrator-gateway.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';
import { TasksModule } from './tasks/tasks.module';

/**
 * The API. Built from a configuration that main.ts (or a test) validated and
 * completed with the database URL, so nothing below reads the environment.
 */
@Module({})
export class AppModule {
  static forRoot(config: ApiConfig): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [LoggerModule.forRoot(loggerParams(config.logLevel)), DatabaseModule, OrchestratorGatewayModule, TasksModule, DispatcherModule, CallbacksModule, ReconciliationModule, HealthModule, MetricsEndpointModule],
      providers: [{ provide: ApiConfig, useValue: config }],
      exports: [ApiConfig],
    };
  }
}
