import { Injectable } from '@nestjs/common';
import { AppError } from '@mosaic/http-kit';
import { agentSchema, repositorySchema } from '@mosaic/orchestrator-contract';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import type { TrackedSession } from '../sessions/session';
import type { Budget } from '../sessions/budget';
import type { BudgetDto, CreateTaskDto } from './create-task.dto';
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
      budget: budgetOf(input.budget),
      // The DTO checked both against these schemas: parsing again gives their defaults (the agent's kind).
      agent: input.agent === undefined || input.agent === null ? null : agentSchema.parse(input.agent),
      repository: input.repository === undefined || input.repository === null ? null : repositorySchema.parse(input.repository),
    });
  }

  async getWithLatestSession(id: string): Promise<{ task: Task; latestSession: TrackedSession | undefined }> {
    const task = await this.tasks.findById(id);
    if (task === undefined) throw new AppError('not_found', `task ${id} not found`);
    return { task, latestSession: await this.sessions.findLatestForTask(id) };
  }
}

/** The limits a task's budget sets. */
export function budgetOf(budget: BudgetDto | undefined): Budget {
  const { max_tokens: maxTokens, max_cost_usd: maxCostUsd, max_duration_s: maxDurationS } = budget ?? {};
  return {
    ...(isSet(maxTokens) ? { maxTokens } : {}),
    ...(isSet(maxCostUsd) ? { maxCostUsd } : {}),
    ...(isSet(maxDurationS) ? { maxDurationS } : {}),
  };
}

/**
 * Whether a limit is set. `@IsOptional()` lets JSON `null` through as it does an absent
 * limit, and like one it sets none (the API's answers write "no limit" as `null`).
 */
function isSet(limit: number | null | undefined): limit is number {
  return limit !== undefined && limit !== null;
}
