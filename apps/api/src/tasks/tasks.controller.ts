import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { OperatorAuth } from '../auth/operator-auth.guard';
import { UuidParam } from '../http/uuid-param';
import { ApiErrorResponses } from '../openapi/error-responses';
import { ApiWireBody, ApiWireResponse } from '../openapi/wire-decorators';
import { CreateTaskDto } from './create-task.dto';
import { TasksService } from './tasks.service';
import { presentTask } from './task.presenter';

@ApiTags('tasks')
@Controller('tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  @OperatorAuth('dispatch')
  @ApiOperation({ summary: 'Create a task' })
  @ApiWireBody('CreateTask', { required: true })
  @ApiWireResponse(201, 'Task', 'the task, `open`, with `session: null`')
  @ApiErrorResponses({ 400: { when: 'invalid body; the message names each offending field', code: 'bad_request' } })
  async create(@Body() body: CreateTaskDto) {
    return presentTask(await this.tasks.create(body), undefined);
  }

  @Get(':id')
  @OperatorAuth('read')
  @ApiOperation({ summary: 'A task, its status and its latest session' })
  @ApiWireResponse(200, 'Task')
  @ApiErrorResponses({ 404: { when: 'no task with this id', code: 'not_found' } })
  async get(@Param('id', new UuidParam('task')) id: string) {
    const { task, latestSession } = await this.tasks.getWithLatestSession(id);
    return presentTask(task, latestSession);
  }
}
