import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { OperatorAuth } from '../auth/operator-auth.guard';
import { UuidParam } from '../http/uuid-param';
import { CreateTaskDto } from './create-task.dto';
import { TasksService } from './tasks.service';
import { presentTask } from './task.presenter';

@Controller('tasks')
@OperatorAuth()
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  async create(@Body() body: CreateTaskDto) {
    return presentTask(await this.tasks.create(body), undefined);
  }

  @Get(':id')
  async get(@Param('id', new UuidParam('task')) id: string) {
    const { task, latestSession } = await this.tasks.getWithLatestSession(id);
    return presentTask(task, latestSession);
  }
}
