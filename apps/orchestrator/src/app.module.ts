import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ApiKeyGuard } from './auth/api-key.guard';
import { CallbackDelivery } from './callbacks/callback-delivery';
import { OrchestratorConfig } from './config/orchestrator-config';
import { HealthController } from './health/health.controller';
import { ErrorFilter } from './http/error.filter';
import { SessionsController } from './sessions/sessions.controller';
import { SessionsService } from './sessions/sessions.service';

@Module({})
export class AppModule {
  /** The configuration is loaded before the module exists, so that a bad environment stops start-up with a plain message. */
  static register(config: OrchestratorConfig): DynamicModule {
    return {
      module: AppModule,
      controllers: [HealthController, SessionsController],
      providers: [
        { provide: OrchestratorConfig, useValue: config },
        { provide: APP_FILTER, useClass: ErrorFilter },
        ApiKeyGuard,
        CallbackDelivery,
        SessionsService,
      ],
    };
  }
}
