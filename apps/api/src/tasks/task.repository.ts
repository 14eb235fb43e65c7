import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import type { Task as TaskRow } from '../database/generated/prisma/client';
import type { JsonObject, TaskPriority } from '@mosaic/orchestrator-contract';
import type { Task } from './task';

export interface NewTask {
  readonly title: string;
  readonly description: string | null;
  readonly priority: TaskPriority;
  readonly labels: readonly string[];
  readonly metadata: JsonObject;
}

@Injectable()
export class TaskRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(task: NewTask): Promise<Task> {
    const row = await this.prisma.task.create({
      data: { ...task, labels: [...task.labels] },
    });
    return toTask(row);
  }

  async findById(id: string): Promise<Task | undefined> {
    const row = await this.prisma.task.findUnique({ where: { id } });
    return row ? toTask(row) : undefined;
  }
}

function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: row.priority,
    labels: row.labels,
    metadata: row.metadata as JsonObject,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
