import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { OperatorAuthentication } from '../auth/operator-authentication.middleware';
import { MetricsModule } from '../metrics/metrics.module';
import { OrchestratorGatewayModule } from '../orchestrator-gateway/orchestrator-gateway.module';
import { CallbackSigning } from './callback-signing.service';
import { CallbackTokenService } from './callback-token.service';
import { SessionEventRepository } from './session-event.repository';
import { SessionGauges } from './session.gauges';
import { OrchestratorSessionRepository } from './session.repository';
import { SessionSyncService } from './session-sync.service';
import { SessionsController } from './sessions.controller';
import { SessionsService } from './sessions.service';

/**
 * Sessions: where a session changes status (its repository and the sync with
 * the orchestrator), its event log, its callback tokens, and the operator
 * endpoints on sessions. The features above it (tasks, dispatch, callbacks,
 * reconciliation) import this module for what it exports.
 */
@Module({
  imports: [OrchestratorGatewayModule, MetricsModule, AuthModule],
  controllers: [SessionsController],
  providers: [
    OrchestratorSessionRepository,
    SessionEventRepository,
    SessionSyncService,
    CallbackTokenService,
    CallbackSigning,
    SessionsService,
    SessionGauges,
  ],
  exports: [
    OrchestratorGatewayModule,
    OrchestratorSessionRepository,
    SessionEventRepository,
    SessionsService,
    SessionSyncService,
    CallbackTokenService,
    CallbackSigning,
  ],
})
export class SessionsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OperatorAuthentication).forRoutes(SessionsController);
  }
}
