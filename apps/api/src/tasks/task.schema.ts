import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { TASK_PRIORITIES, TRACKED_SESSION_STATUSES, type JsonObject, type TaskPriority } from '@mosaic/orchestrator-contract';
import { EXAMPLE_AT, EXAMPLE_TASK_ID, SessionSchema, UsageSchema } from '../sessions/session.schema';
import type { TaskStatus } from './task';
import type { TaskResponse } from './task.presenter';

@ApiSchema({ name: 'TaskBudget', description: 'the limits on each of the task\'s sessions; `null`: no such limit' })
export class TaskBudgetSchema {
  @ApiProperty({ type: Number, nullable: true, example: 200000 })
  max_tokens!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 5 })
  max_cost_usd!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: null })
  max_duration_s!: number | null;
}

/** A task's OpenAPI schema; it implements the presenter's type, so an undocumented field fails to compile. */
@ApiSchema({ name: 'Task', description: 'a Mosaic task' })
export class TaskSchema implements TaskResponse {
  @ApiProperty({ format: 'uuid', example: EXAMPLE_TASK_ID })
  id!: string;

  @ApiProperty({ example: 'Summarise the quarterly report' })
  title!: string;

  @ApiProperty({ type: String, nullable: true, example: 'Two pages, for the board.' })
  description!: string | null;

  @ApiProperty({ enum: ['open', ...TRACKED_SESSION_STATUSES], description: '`open` until dispatched, then its latest session\'s status', example: 'open' })
  status!: TaskStatus;

  @ApiProperty({ enum: TASK_PRIORITIES, example: 'normal' })
  priority!: TaskPriority;

  @ApiProperty({ type: [String], example: ['reports'] })
  labels!: string[];

  @ApiProperty({ type: 'object', additionalProperties: true, example: { quarter: 'Q4' } })
  metadata!: JsonObject;

  @ApiProperty({ type: TaskBudgetSchema })
  budget!: TaskBudgetSchema;

  @ApiProperty({ type: UsageSchema, description: 'what all its sessions spent together' })
  usage!: UsageSchema;

  @ApiProperty({ format: 'date-time', example: EXAMPLE_AT })
  created_at!: string;

  @ApiProperty({ format: 'date-time', example: EXAMPLE_AT })
  updated_at!: string;

  @ApiProperty({ type: SessionSchema, nullable: true, description: 'the latest session, `null` before the first dispatch' })
  session!: SessionSchema | null;
}
