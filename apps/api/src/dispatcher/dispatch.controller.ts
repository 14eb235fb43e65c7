import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { OperatorAuth } from '../auth/operator-auth.guard';
import { UuidParam } from '../http/uuid-param';
import { presentSession } from '../orchestrator-gateway/session.presenter';
import { DispatchTaskDto } from './dispatch-task.dto';
import { TaskDispatcherService } from './task-dispatcher.service';

@Controller('tasks')
@OperatorAuth()
export class DispatchController {
  constructor(private readonly dispatcher: TaskDispatcherService) {}

  @Post(':id/dispatch')
  @HttpCode(202)
  async dispatch(@Param('id', new UuidParam('task')) id: string, @Body() body: DispatchTaskDto = {}) {
    const session = await this.dispatcher.dispatch(id, body.requested_by ?? null);
    return { task_id: id, session: presentSession(session) };
  }
}
