import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AppError } from '@mosaic/http-kit';
import { MAX_SEQUENCE, streamFromQuerySchema } from '@mosaic/orchestrator-contract';
import type { Operator } from '../auth/operator';
import { CurrentOperator, OperatorAuth } from '../auth/operator-auth.guard';
import { UuidParam } from '../http/uuid-param';
import { ApiErrorResponses } from '../openapi/error-responses';
import { ApiWireQuery } from '../openapi/wire-decorators';
import { SessionStreamsService } from './session-streams.service';
import { StreamFromDto } from './stream-from.dto';

const SSE_DESCRIPTION =
  'Server-Sent Events, with a comment line as heartbeat while idle. Authenticate with the `Authorization` header (a browser reads the stream with `fetch`, since `EventSource` cannot send it); a token in the URL is not accepted. Open streams are capped per key, per client address and in all; a stream ends at its maximum life (`STREAM_MAX_LIFE_MS`), and when its key is revoked.';

/** The refusals of a stream past a cap (StreamRegistry). */
const STREAM_CAPS = {
  429: { when: 'the key or the client address holds as many open streams as it may (with `Retry-After`)', code: 'too_many_streams' },
  503: { when: 'the API holds as many open streams as it may (with `Retry-After`)', code: 'at_capacity' },
} as const;

@ApiTags('sessions')
@Controller('orchestrator')
export class SessionStreamsController {
  constructor(private readonly streams: SessionStreamsService) {}

  @Get('sessions/:id/events/stream')
  @OperatorAuth('read')
  @ApiOperation({
    summary: "The session's events, live",
    description: `Every stored event after \`Last-Event-ID\` (or \`after_sequence\`; from the first without either), then each new one as it is stored: \`id\` the event's \`sequence\`, \`event\` its \`type\`, \`data\` the event as \`GET /orchestrator/sessions/:id/events\` shows it. The stream ends after the orchestrator's terminal status event (or, for a session that ended without one, 5 s after its end). A client that reads too slowly is cut off and resumes by \`Last-Event-ID\`. ${SSE_DESCRIPTION}`,
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'the `id` of the last event received: the stream resumes after it' })
  @ApiWireQuery(streamFromQuerySchema)
  @ApiOkResponse({ description: 'the event stream' })
  @ApiErrorResponses({
    400: { when: 'invalid `Last-Event-ID` or `after_sequence`', code: 'bad_request' },
    404: { when: 'no session with this id', code: 'not_found' },
    ...STREAM_CAPS,
  })
  async sessionEvents(
    @Param('id', new UuidParam('session')) id: string,
    @Query() query: StreamFromDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @CurrentOperator() operator: Operator,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.streams.followSession(id, resumeAfter(lastEventId, query.after_sequence), { operator, address: reply.request.ip }, reply);
  }

  @Get('events/stream')
  @OperatorAuth('read')
  @ApiOperation({
    summary: "Every session's changes, live",
    description: `\`event: session\`, \`data\` the session object, whenever a session is created or its status, node, queue position, error or exit code changes. No history and no resume: a client that reconnects lists the sessions again. ${SSE_DESCRIPTION}`,
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'the event stream' })
  @ApiErrorResponses(STREAM_CAPS)
  followSessions(@CurrentOperator() operator: Operator, @Res() reply: FastifyReply): void {
    this.streams.followSessions({ operator, address: reply.request.ip }, reply);
  }
}

/** The sequence to resume after: `Last-Event-ID` (a reconnecting client's) before `after_sequence`; -1 for all. */
function resumeAfter(lastEventId: string | undefined, afterSequence: number | undefined): number {
  if (lastEventId !== undefined) {
    if (!/^\d{1,10}$/.test(lastEventId.trim()) || Number(lastEventId) > MAX_SEQUENCE) {
      throw new AppError('bad_request', 'Last-Event-ID must be the id of an event of this stream (a sequence number)');
    }
    return Number(lastEventId);
  }
  return afterSequence ?? -1;
}
