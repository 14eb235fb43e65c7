import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { AuthModule } from '../auth/auth.module';
import { BudgetsModule } from '../budgets/budgets.module';
import { CallbacksModule } from '../callbacks/callbacks.module';
import { ApiConfig } from '../config/api-config';
import { DatabaseModule } from '../database/database.module';
import { DispatcherModule } from '../dispatcher/dispatcher.module';
import { HealthModule } from '../health/health.module';
import { MetricsModule } from '../metrics/metrics.module';
import { loggerParams } from '@mosaic/observability';
import { ReconciliationModule } from '../reconciliation/reconciliation.module';
import { SessionsModule } from '../sessions/sessions.module';
import { SessionStreamsModule } from '../session-streams/session-streams.module';
import { TasksModule } from '../tasks/tasks.module';
import { WebModule } from '../web/web.module';

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
      imports: [
        LoggerModule.forRoot(loggerParams(config.logLevel)),
        DatabaseModule,
        MetricsModule,
        AuthModule,
        SessionsModule,
        SessionStreamsModule,
        TasksModule,
        DispatcherModule,
        BudgetsModule,
        CallbacksModule,
        ArtifactsModule,
        ReconciliationModule,
        HealthModule,
        WebModule,
      ],
      providers: [{ provide: ApiConfig, useValue: config }],
      exports: [ApiConfig],
    };
  }
}
