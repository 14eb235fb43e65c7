import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Operator } from '../auth/operator';
import { CurrentOperator, OperatorAuth } from '../auth/operator-auth.guard';
import { UuidParam } from '../http/uuid-param';
import { ApiErrorResponses, ORCHESTRATOR_FAILURES } from '../openapi/error-responses';
import { SessionPageSchema, SessionSchema, SessionWithEventsSchema } from './session.schema';
import { GetSessionDto, ListSessionsDto } from './list-sessions.dto';
import { presentSession } from './session.presenter';
import { SessionsService } from './sessions.service';

@ApiTags('sessions')
@Controller('orchestrator/sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  @OperatorAuth('read')
  @ApiOperation({ summary: 'The sessions the API tracks, newest first' })
  @ApiOkResponse({ type: SessionPageSchema })
  @ApiErrorResponses({ 400: { when: 'invalid `status`, `limit` or `cursor`', code: 'bad_request' } })
  async list(@Query() query: ListSessionsDto) {
    const page = await this.sessions.list(query);
    return { sessions: page.sessions.map(presentSession), next_cursor: page.nextCursor };
  }

  @Get(':id')
  @OperatorAuth('read')
  @ApiOperation({ summary: 'One tracked session with its stored callback events', description: '`refresh=true` asks the orchestrator for its status first.' })
  @ApiOkResponse({ type: SessionWithEventsSchema })
  @ApiErrorResponses({
    400: { when: 'invalid `refresh`', code: 'bad_request' },
    404: { when: 'no session with this id', code: 'not_found' },
    ...ORCHESTRATOR_FAILURES,
  })
  async get(@Param('id', new UuidParam('session')) id: string, @Query() query: GetSessionDto) {
    const { session, events } = await this.sessions.getWithEvents(id, query.refresh === 'true');
    return { ...presentSession(session), events };
  }

  @Post(':id/kill')
  @OperatorAuth('stop')
  @HttpCode(200)
  @ApiOperation({ summary: 'Kill the session through the orchestrator', description: 'Idempotent: a terminal session is answered as it is.' })
  @ApiOkResponse({ type: SessionSchema, description: 'the session, its status now terminal' })
  @ApiErrorResponses({ 404: { when: 'no session with this id', code: 'not_found' }, ...ORCHESTRATOR_FAILURES })
  async kill(@Param('id', new UuidParam('session')) id: string, @CurrentOperator() operator: Operator) {
    return presentSession(await this.sessions.kill(id, operator.name));
  }
}
