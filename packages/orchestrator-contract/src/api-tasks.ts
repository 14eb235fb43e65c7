import { z } from 'zod';
import { agentSchema, repositorySchema } from './agents';
import { API_EXAMPLES, sessionSchema, usageSchema } from './api-sessions';
import { hasAtMostMicroUnits, storableJsonObjectSchema, storableText } from './api-text';
import { timestampSchema } from './gateway';
import { uuidSchema } from './ids';
import { TASK_PRIORITIES } from './priorities';
import { TRACKED_SESSION_STATUSES } from './statuses';

/*
 * The Mosaic API's tasks on the wire (contract section 4): creating one,
 * dispatching it, and the task and dispatch its answers carry. In the
 * requests, `null` stands for an absent optional field, as the API takes it.
 */

/** `open` until first dispatched; from then on a task follows its latest session's status. */
export const TASK_STATUSES = ['open', ...TRACKED_SESSION_STATUSES] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The largest value a 32-bit signed integer column (a budget's duration) holds. */
const MAX_INT32 = 2_147_483_647;

/** (v2) A task's budget: the limits on each of its sessions; a session that passes one is cancelled. */
export const budgetSchema = z
  .strictObject({
    max_tokens: z.int().positive().max(1e12).nullish().meta({ description: 'input and output tokens together', example: 200_000 }),
    max_cost_usd: z
      .number()
      .positive()
      .max(1e9)
      .refine(hasAtMostMicroUnits, 'must have at most 6 decimal places')
      .nullish()
      .meta({ description: 'US dollars, to 6 decimal places', example: 5 }),
    max_duration_s: z
      .int()
      .positive()
      .max(MAX_INT32)
      .nullish()
      .meta({ description: 'seconds of running time, enforced even when the agent reports nothing', example: 3600 }),
  })
  .meta({ description: "limits on each of the task's sessions; one that passes any is cancelled (`budget_exceeded`)" });
export type BudgetRequest = z.infer<typeof budgetSchema>;

/** `POST /tasks`. */
export const createTaskSchema = z.strictObject({
  title: storableText({ min: 1, max: 500 }).meta({ example: 'Summarise the quarterly report' }),
  description: storableText({ max: 20_000 }).nullish().meta({ example: 'Two pages, for the board.' }),
  priority: z.enum(TASK_PRIORITIES).nullish().meta({ default: 'normal', example: 'high' }),
  labels: z
    .array(storableText({ min: 1, max: 100 }))
    .max(50)
    .nullish()
    .meta({ example: ['reports'] }),
  metadata: storableJsonObjectSchema.nullish().meta({
    description: 'sent to the agent; values under keys that look like secrets (`token`, `password`, …) are sent as `[REDACTED]`',
    example: { quarter: 'Q4' },
  }),
  budget: budgetSchema.nullish(),
  agent: agentSchema.nullish(),
  repository: repositorySchema.nullish(),
});
export type CreateTask = z.infer<typeof createTaskSchema>;

/** `POST /tasks/:id/dispatch`, whose body is optional. */
export const dispatchTaskSchema = z.strictObject({
  requested_by: storableText({ min: 1, max: 200 })
    .nullish()
    .meta({ description: 'who asked; recorded on the session and handed to the agent', example: 'alice' }),
});
export type DispatchTask = z.infer<typeof dispatchTaskSchema>;

export const taskBudgetSchema = z
  .object({
    max_tokens: z.int().positive().nullable().meta({ example: 200000 }),
    max_cost_usd: z.number().positive().nullable().meta({ example: 5 }),
    max_duration_s: z.int().positive().nullable().meta({ example: null }),
  })
  .meta({ description: "the limits on each of the task's sessions; `null`: no such limit" });
export type TaskBudget = z.infer<typeof taskBudgetSchema>;

export const taskSchema = z
  .object({
    id: uuidSchema.meta({ example: API_EXAMPLES.taskId }),
    title: z.string().meta({ example: 'Summarise the quarterly report' }),
    description: z.string().nullable().meta({ example: 'Two pages, for the board.' }),
    status: z.enum(TASK_STATUSES).meta({ description: "`open` until dispatched, then its latest session's status", example: 'open' }),
    priority: z.enum(TASK_PRIORITIES).meta({ example: 'normal' }),
    labels: z.array(z.string()).meta({ example: ['reports'] }),
    metadata: z.record(z.string(), z.unknown()).meta({ example: { quarter: 'Q4' } }),
    budget: taskBudgetSchema,
    agent: agentSchema.nullable().meta({ description: "the agent that serves it; `null`: the orchestrator's command agent" }),
    repository: repositorySchema.nullable().meta({ description: 'the repository its agent works on; `null`: an empty workspace' }),
    usage: usageSchema.meta({ description: 'what all its sessions spent together' }),
    created_at: timestampSchema.meta({ example: API_EXAMPLES.at }),
    updated_at: timestampSchema.meta({ example: API_EXAMPLES.at }),
    session: sessionSchema.nullable().meta({ description: 'the latest session, `null` before the first dispatch' }),
  })
  .meta({ description: 'a Mosaic task' });
export type Task = z.infer<typeof taskSchema>;

/** The `202` of a dispatch: the task and the session the dispatch started. */
export const dispatchSchema = z
  .object({
    task_id: uuidSchema.meta({ example: API_EXAMPLES.taskId }),
    session: sessionSchema,
  })
  .meta({ description: 'the session a dispatch started' });
export type Dispatch = z.infer<typeof dispatchSchema>;
