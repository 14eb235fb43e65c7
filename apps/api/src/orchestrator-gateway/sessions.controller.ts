import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { OperatorAuth } from '../auth/operator-auth.guard';
import { UuidParam } from '../http/uuid-param';
import { GetSessionDto, ListSessionsDto } from './list-sessions.dto';
import { presentSession } from './session.presenter';
import { SessionsService } from './sessions.service';

@Controller('orchestrator/sessions')
@OperatorAuth()
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  async list(@Query() query: ListSessionsDto) {
    const page = await this.sessions.list(query);
    return { sessions: page.sessions.map(presentSession), next_cursor: page.nextCursor };
  }

  @Get(':id')
  async get(@Param('id', new UuidParam('session')) id: string, @Query() query: GetSessionDto) {
    const { session, events } = await this.sessions.getWithEvents(id, query.refresh === 'true');
    return { ...presentSession(session), events };
  }

  @Post(':id/kill')
  @HttpCode(200)
  async kill(@Param('id', new UuidParam('session')) id: string) {
    return presentSession(await this.sessions.kill(id));
  }
}
