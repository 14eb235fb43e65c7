import type { TrackedSessionStatus } from '@mosaic/orchestrator-contract';

export const TASK_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** `open` until first dispatched; from then on it follows its latest session's status. */
export type TaskStatus = 'open' | TrackedSessionStatus;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A Mosaic task as the rest of the API sees it (Prisma's types stay in the repositories). */
export interface Task {
  readonly id: string;
  readonly title: string;
  readonly description: string | null;
  readonly status: TaskStatus;
  readonly priority: TaskPriority;
  readonly labels: readonly string[];
  readonly metadata: JsonObject;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}
