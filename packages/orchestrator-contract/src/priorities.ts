/** A task's priority (contract v2: a spawn's `priority`, the queue's order). */
export const TASK_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** The queue's order: a spawn of a higher priority runs before every lower one (docs/contract.md §2; v2). */
export const PRIORITY_RANK: Record<TaskPriority, number> = { urgent: 1, high: 2, normal: 3, low: 4 };
