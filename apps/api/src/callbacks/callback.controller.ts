import { Body, Controller, HttpCode, HttpStatus, Post, UseGuards } from '@nestjs/common';
import { type CallbackAck, CallbackIngestionService } from './callback-ingestion.service';
import { CallbackSession, CallbackTokenGuard } from './callback-token.guard';
import type { CallbackTarget } from './session-event.repository';

/** The orchestrator's callbacks (contract section 3). `:sessionId` is the API's session id. */
@Controller('orchestrator/callbacks')
export class CallbackController {
  constructor(private readonly ingestion: CallbackIngestionService) {}

  @Post(':sessionId')
  @HttpCode(HttpStatus.ACCEPTED)
  @UseGuards(CallbackTokenGuard)
  receive(@CallbackSession() session: CallbackTarget, @Body() body: unknown): Promise<CallbackAck> {
    return this.ingestion.ingest(session, body);
  }
}
