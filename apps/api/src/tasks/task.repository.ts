import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import type { Task as TaskRow } from '../database/generated/prisma/client';
import type { AgentSettings, JsonObject, RepositoryRequest, TaskPriority } from '@mosaic/orchestrator-contract';
import { type Budget, NO_USAGE, type Usage } from '../sessions/budget';
import type { Task } from './task';

export interface NewTask {
  readonly title: string;
  readonly description: string | null;
  readonly priority: TaskPriority;
  readonly labels: readonly string[];
  readonly metadata: JsonObject;
  readonly budget: Budget;
  readonly agent: AgentSettings | null;
  readonly repository: RepositoryRequest | null;
}

@Injectable()
export class TaskRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(task: NewTask): Promise<Task> {
    const { budget, agent, repository, ...fields } = task;
    const row = await this.prisma.task.create({
      data: {
        ...fields,
        labels: [...task.labels],
        ...(agent === null ? {} : { agent: { ...agent } }),
        ...(repository === null ? {} : { repository: { ...repository } }),
        budgetMaxTokens: budget.maxTokens === undefined ? null : BigInt(budget.maxTokens),
        budgetMaxCostUsd: budget.maxCostUsd ?? null,
        budgetMaxDurationS: budget.maxDurationS ?? null,
      },
    });
    return toTask(row, NO_USAGE);
  }

  /** The task, with what its sessions spent together: the sum of theirs, which the statements storing usage keep. */
  async findById(id: string): Promise<Task | undefined> {
    const [row, spent] = await Promise.all([
      this.prisma.task.findUnique({ where: { id } }),
      this.prisma.orchestratorSession.aggregate({ where: { taskId: id }, _sum: { inputTokens: true, outputTokens: true, costUsd: true } }),
    ]);
    if (row === null) return undefined;
    return toTask(row, {
      inputTokens: Number(spent._sum.inputTokens ?? 0),
      outputTokens: Number(spent._sum.outputTokens ?? 0),
      costUsd: spent._sum.costUsd?.toNumber() ?? 0,
    });
  }
}

function toTask(row: TaskRow, usage: Usage): Task {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: row.priority,
    labels: row.labels,
    metadata: row.metadata as JsonObject,
    budget: {
      ...(row.budgetMaxTokens === null ? {} : { maxTokens: Number(row.budgetMaxTokens) }),
      ...(row.budgetMaxCostUsd === null ? {} : { maxCostUsd: row.budgetMaxCostUsd.toNumber() }),
      ...(row.budgetMaxDurationS === null ? {} : { maxDurationS: row.budgetMaxDurationS }),
    },
    agent: row.agent as AgentSettings | null,
    repository: row.repository as RepositoryRequest | null,
    usage,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
