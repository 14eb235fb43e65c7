import { Injectable } from '@nestjs/common';
import { AppError } from '@mosaic/http-kit';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import type { TrackedSession } from '../sessions/session';
import type { CreateTaskDto } from './create-task.dto';
import type { Task } from './task';
import { TaskRepository } from './task.repository';

@Injectable()
export class TasksService {
  constructor(
    private readonly tasks: TaskRepository,
    private readonly sessions: OrchestratorSessionRepository,
  ) {}

  create(input: CreateTaskDto): Promise<Task> {
    return this.tasks.create({
      title: input.title,
      description: input.description ?? null,
      priority: input.priority ?? 'normal',
      labels: input.labels ?? [],
      metadata: input.metadata ?? {},
      budget: {
        ...(input.budget?.max_tokens === undefined ? {} : { maxTokens: input.budget.max_tokens }),
        ...(input.budget?.max_cost_usd === undefined ? {} : { maxCostUsd: input.budget.max_cost_usd }),
        ...(input.budget?.max_duration_s === undefined ? {} : { maxDurationS: input.budget.max_duration_s }),
      },
    });
  }

  async getWithLatestSession(id: string): Promise<{ task: Task; latestSession: TrackedSession | undefined }> {
    const task = await this.tasks.findById(id);
    if (task === undefined) throw new AppError('not_found', `task ${id} not found`);
    return { task, latestSession: await this.sessions.findLatestForTask(id) };
  }
}
