import { Module } from '@nestjs/common';
import { CallbackTokenService } from '../callbacks/callback-token.service';
import { CallbacksModule } from '../callbacks/callbacks.module';
import { OrchestratorClientModule } from './orchestrator-client.module';
import { OrchestratorSessionRepository } from './session.repository';
import { SessionSyncService } from './session-sync.service';
import { SessionsController } from './sessions.controller';
import { SessionsService } from './sessions.service';

/**
 * The gateway to the orchestrator: the HTTP client and the task-context
 * serializer (OrchestratorClientModule), session tracking, callback tokens, and
 * the operator endpoints on sessions.
 */
@Module({
  imports: [OrchestratorClientModule, CallbacksModule],
  controllers: [SessionsController],
  providers: [OrchestratorSessionRepository, SessionSyncService, CallbackTokenService, SessionsService],
  exports: [OrchestratorClientModule, OrchestratorSessionRepository, SessionSyncService, CallbackTokenService],
})
export class OrchestratorGatewayModule {}
