import { Body, Controller, HttpCode, HttpStatus, Param, Post, type RawBodyRequest, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CALLBACK_ROUTE, type CallbackAck, wireSchemaRef } from '@mosaic/orchestrator-contract';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callerGone } from '../http/caller-gone';
import { ApiErrorResponses } from '../openapi/error-responses';
import { SECURITY_SCHEMES } from '../openapi/openapi';
import { ApiWireResponse } from '../openapi/wire-decorators';
import { CallbackIngestionService } from './callback-ingestion.service';

/**
 * The orchestrator's callbacks (docs/contract.md §3). `:sessionId` is the API's
 * session id. Authentication is the ingestion's, not a guard's: it checks the
 * token in the same statement that stores the event.
 */
@ApiTags('callbacks')
@Controller()
export class CallbackController {
  constructor(private readonly ingestion: CallbackIngestionService) {}

  @Post(CALLBACK_ROUTE)
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiBearerAuth(SECURITY_SCHEMES.callback)
  @ApiOperation({
    summary: 'Receive one callback event from the orchestrator',
    description: 'Each `event_id` is stored once; a duplicate, or an event after a terminal status, is accepted and changes nothing.',
  })
  @ApiParam({ name: 'sessionId', description: "the API's session id, as in the spawn request's `callback_url`", format: 'uuid' })
  @ApiBody({ schema: wireSchemaRef('CallbackEvent') })
  @ApiWireResponse(202, 'CallbackAck', 'the event is stored (or had been)')
  @ApiErrorResponses({
    400: { when: 'invalid event; the message names the field', code: 'bad_request' },
    401: {
      when: 'missing, malformed, expired or revoked token, or one issued for another session (never says which)',
      code: 'unauthorized',
    },
    413: { when: 'body over 64 KiB, or an artifact over ARTIFACT_MAX_BYTES', code: 'payload_too_large' },
    503: {
      when: 'too many callbacks (or artifacts) waiting to be stored, or the database cannot take it now (with `Retry-After`): send the same event again later',
      code: 'at_capacity',
    },
  })
  receive(
    @Param('sessionId') sessionId: string,
    @Req() request: RawBodyRequest<FastifyRequest>,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CallbackAck> {
    return this.ingestion.ingest({
      sessionId,
      headers: request.headers,
      body,
      rawBody: request.rawBody,
      callerGone: callerGone(reply.raw),
    });
  }
}
