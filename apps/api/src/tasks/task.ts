import type { AgentSettings, JsonObject, RepositoryRequest, TaskPriority, TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import type { Budget, Usage } from '../sessions/budget';

/** `open` until first dispatched; from then on it follows its latest session's status. */
export type TaskStatus = 'open' | TrackedSessionStatus;

/** A Mosaic task as the rest of the API sees it (Prisma's types stay in the repositories). */
export interface Task {
  readonly id: string;
  readonly title: string;
  readonly description: string | null;
  readonly status: TaskStatus;
  readonly priority: TaskPriority;
  readonly labels: readonly string[];
  readonly metadata: JsonObject;
  readonly budget: Budget;
  /** (v3) The agent that serves it; null: the orchestrator's command agent. */
  readonly agent: AgentSettings | null;
  /** (v3) The repository its agent works on; null: an empty workspace. */
  readonly repository: RepositoryRequest | null;
  /** What all its sessions spent together. */
  readonly usage: Usage;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}
