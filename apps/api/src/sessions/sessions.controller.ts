import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import {
  type CancelRequest,
  cancelRequestSchema,
  eventPageQuerySchema,
  getSessionQuerySchema,
  listSessionsQuerySchema,
  type Session,
  type SessionEventPage,
  type SessionPage,
  type SessionWithEvents,
} from '@mosaic/orchestrator-contract';
import type { Operator } from '../auth/operator';
import { CurrentOperator, OperatorAuth } from '../auth/operator-auth.guard';
import { ContractBody } from '../http/contract-body.pipe';
import { withQuietSocket } from '../http/quiet-socket';
import { UuidParam } from '../http/uuid-param';
import { ApiErrorResponses, ORCHESTRATOR_FAILURES } from '../openapi/error-responses';
import { ApiWireBody, ApiWireQuery, ApiWireResponse } from '../openapi/wire-decorators';
import { EventPageDto, GetSessionDto, ListSessionsDto } from './list-sessions.dto';
import { presentSession } from './session.presenter';
import { SessionsService } from './sessions.service';

@ApiTags('sessions')
@Controller('orchestrator/sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  @OperatorAuth('read')
  @ApiOperation({ summary: 'The sessions the API tracks, newest first' })
  @ApiWireQuery(listSessionsQuerySchema)
  @ApiWireResponse(200, 'SessionPage')
  @ApiErrorResponses({ 400: { when: 'invalid `status`, `limit` or `cursor`', code: 'bad_request' } })
  async list(@Query() query: ListSessionsDto): Promise<SessionPage> {
    const page = await this.sessions.list(query);
    return { sessions: page.sessions.map(presentSession), next_cursor: page.nextCursor };
  }

  @Get(':id')
  @OperatorAuth('read')
  @ApiOperation({
    summary: 'One tracked session with its last stored callback events',
    description:
      'At most the last 200 events, `events_truncated` when there are more (read them with `GET /orchestrator/sessions/:id/events`). `refresh=true` asks the orchestrator for its status first.',
  })
  @ApiWireQuery(getSessionQuerySchema)
  @ApiWireResponse(200, 'SessionWithEvents')
  @ApiErrorResponses({
    400: { when: 'invalid `refresh`', code: 'bad_request' },
    404: { when: 'no session with this id', code: 'not_found' },
    ...ORCHESTRATOR_FAILURES,
  })
  async get(@Param('id', new UuidParam('session')) id: string, @Query() query: GetSessionDto): Promise<SessionWithEvents> {
    const { session, events, truncated } = await this.sessions.getWithEvents(id, query.refresh === 'true');
    return { ...presentSession(session), events, events_truncated: truncated };
  }

  @Get(':id/events')
  @OperatorAuth('read')
  @ApiOperation({
    summary: "The session's stored callback events, page by page",
    description:
      'In `sequence` order; pass `next_after_sequence` as `after_sequence` for the next page. A page never splits the events of one sequence.',
  })
  @ApiWireQuery(eventPageQuerySchema)
  @ApiWireResponse(200, 'SessionEventPage')
  @ApiErrorResponses({
    400: { when: 'invalid `after_sequence` or `limit`', code: 'bad_request' },
    404: { when: 'no session with this id', code: 'not_found' },
  })
  async events(@Param('id', new UuidParam('session')) id: string, @Query() query: EventPageDto): Promise<SessionEventPage> {
    const page = await this.sessions.eventPage(id, query.after_sequence, query.limit);
    return { events: page.events, next_after_sequence: page.nextAfterSequence };
  }

  @Post(':id/kill')
  @OperatorAuth('stop')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Kill the session through the orchestrator',
    description: 'Idempotent: a terminal session is answered as it is.',
  })
  @ApiWireResponse(200, 'Session', 'the session, its status now terminal')
  @ApiErrorResponses({ 404: { when: 'no session with this id', code: 'not_found' }, ...ORCHESTRATOR_FAILURES })
  async kill(@Param('id', new UuidParam('session')) id: string, @CurrentOperator() operator: Operator): Promise<Session> {
    return presentSession(await this.sessions.kill(id, operator));
  }

  @Post(':id/cancel')
  @OperatorAuth('stop')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel the session gracefully through the orchestrator',
    description:
      'The agent gets SIGTERM and `grace_ms` to stop, then SIGKILL; the answer comes once it is gone. A pending session leaves the queue at once. Idempotent: a terminal session is answered as it is.',
  })
  @ApiWireBody('CancelSession', { required: false })
  @ApiWireResponse(200, 'Session', 'the session, its status now terminal')
  @ApiErrorResponses({
    400: { when: 'invalid body (the message names the field)', code: 'bad_request' },
    404: { when: 'no session with this id', code: 'not_found' },
    ...ORCHESTRATOR_FAILURES,
  })
  async cancel(
    @Param('id', new UuidParam('session')) id: string,
    @Body(new ContractBody(cancelRequestSchema)) body: CancelRequest,
    @CurrentOperator() operator: Operator,
    @Req() request: FastifyRequest,
  ): Promise<Session> {
    // The orchestrator answers after the grace; the client's timeouts bound the wait.
    return presentSession(await withQuietSocket(request.raw.socket, () => this.sessions.cancel(id, operator, body)));
  }
}
