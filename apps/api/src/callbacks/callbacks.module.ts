import { Module } from '@nestjs/common';
import { CallbackController } from './callback.controller';
import { CallbackIngestionService } from './callback-ingestion.service';
import { CallbackTokenService } from './callback-token.service';
import { SessionEventRepository } from './session-event.repository';

/**
 * The callback endpoint and the session event log. Imports nothing but the
 * global database and configuration, so the gateway's operator endpoints can
 * import it for `SessionEventRepository` without a cycle.
 */
@Module({
  controllers: [CallbackController],
  providers: [CallbackIngestionService, CallbackTokenService, SessionEventRepository],
  exports: [SessionEventRepository],
})
export class CallbacksModule {}
