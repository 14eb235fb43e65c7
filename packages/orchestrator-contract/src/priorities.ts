/** A task's priority (contract v2: a spawn's `priority`, the queue's order). */
export const TASK_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
