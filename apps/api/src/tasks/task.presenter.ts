import type { Task as TaskAnswer } from '@mosaic/orchestrator-contract';
import { presentSession } from '../sessions/session.presenter';
import type { TrackedSession } from '../sessions/session';
import type { Task } from './task';

export function presentTask(task: Task, latestSession: TrackedSession | undefined): TaskAnswer {
  return {
    id: task.id,
    title: task.title,
    description: task.description,
    status: task.status,
    priority: task.priority,
    labels: [...task.labels],
    metadata: task.metadata,
    budget: {
      max_tokens: task.budget.maxTokens ?? null,
      max_cost_usd: task.budget.maxCostUsd ?? null,
      max_duration_s: task.budget.maxDurationS ?? null,
    },
    agent: task.agent,
    repository: task.repository,
    usage: { input_tokens: task.usage.inputTokens, output_tokens: task.usage.outputTokens, cost_usd: task.usage.costUsd },
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
    session: latestSession === undefined ? null : presentSession(latestSession),
  };
}
