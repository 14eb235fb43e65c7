import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Dispatch } from '@mosaic/orchestrator-contract';
import type { Operator } from '../auth/operator';
import { CurrentOperator, OperatorAuth } from '../auth/operator-auth.guard';
import { UuidParam } from '../http/uuid-param';
import { ApiErrorResponses, ORCHESTRATOR_FAILURES } from '../openapi/error-responses';
import { ApiWireBody, ApiWireResponse } from '../openapi/wire-decorators';
import { presentDispatch } from './dispatch.presenter';
import { DispatchTaskDto } from './dispatch-task.dto';
import { TaskDispatcherService } from './task-dispatcher.service';

@ApiTags('tasks')
@Controller('tasks')
export class DispatchController {
  constructor(private readonly dispatcher: TaskDispatcherService) {}

  @Post(':id/dispatch')
  @OperatorAuth('dispatch')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Spawn a session for the task through the orchestrator',
    description: 'On any failure the session ends `failed` with the reason and the task can be dispatched again.',
  })
  @ApiWireBody('DispatchTask', { required: false })
  @ApiWireResponse(202, 'Dispatch', 'the orchestrator accepted the spawn')
  @ApiErrorResponses({
    400: { when: 'invalid body', code: 'bad_request' },
    404: { when: 'no task with this id', code: 'not_found' },
    409: { when: 'the task already has an active session', code: 'conflict' },
    422: { when: 'the task is too large to send to the orchestrator', code: 'task_context_too_large' },
    429: { when: "today's (UTC) agent cost has reached MOSAIC_DAILY_COST_LIMIT_USD", code: 'daily_budget_exhausted' },
    ...ORCHESTRATOR_FAILURES,
  })
  async dispatch(
    @Param('id', new UuidParam('task')) id: string,
    @Body() body: DispatchTaskDto = {},
    @CurrentOperator() operator: Operator,
  ): Promise<Dispatch> {
    const session = await this.dispatcher.dispatch(id, { requestedBy: body.requested_by ?? null, actor: operator });
    return presentDispatch(id, session);
  }
}
