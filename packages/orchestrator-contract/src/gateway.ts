import { z } from 'zod';
import { agentSchema, repositorySchema } from './agents';
import { TASK_PRIORITIES } from './priorities';
import { SESSION_STATUSES } from './statuses';

/** Limits shared by both sides, so that what one sends the other accepts. */
export const LIMITS = {
  idempotencyKeyMaxLength: 255,
  spawnBodyMaxBytes: 256 * 1024,
  callbackBodyMaxBytes: 64 * 1024,
  /**
   * A log callback's line, measured as it travels: UTF-8 bytes of its JSON
   * encoding (without quotes), so that a line of control characters, each
   * escaped to six bytes, still fits the body limit with room to spare.
   */
  logLineMaxEncodedBytes: 16 * 1024,
  callbackTokenMaxLength: 512,
  listDefaultLimit: 50,
  listMaxLimit: 500,
  /** (v2) The longest grace a cancel may ask for. */
  cancelGraceMaxMs: 600_000,
} as const;

export const HEADERS = {
  idempotencyKey: 'idempotency-key',
  retryAfter: 'retry-after',
} as const;

/** Times on the wire: ISO-8601 in UTC (contract preamble). */
export const timestampSchema = z.iso.datetime({ offset: false });

export const sessionStatusSchema = z.enum(SESSION_STATUSES);

/** The task as the orchestrator sees it: an id and a title, plus whatever the API chose to send. */
export const spawnTaskSchema = z.looseObject({
  id: z.string().min(1).max(255),
  title: z.string().min(1),
  description: z.string().nullish(),
  agent: agentSchema.optional(),
  repository: repositorySchema.optional(),
});

/** (v3) 2: the task may carry `agent` and `repository`. Version 1, sent by an API before v3, is still read. */
export const TASK_CONTEXT_SCHEMA_VERSION = 2;

export const taskContextSchema = z.looseObject({
  schema_version: z.union([z.literal(1), z.literal(TASK_CONTEXT_SCHEMA_VERSION)]),
});

/**
 * A Standard Webhooks signing secret (docs/contract.md §2; v2): `whsec_` and
 * the base64 of 24 to 64 random bytes.
 */
export const callbackSigningSecretSchema = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_ followed by base64')
  .refine((secret) => {
    const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
    return bytes >= 24 && bytes <= 64;
  }, 'must carry 24 to 64 bytes');

export const spawnRequestSchema = z.strictObject({
  task: spawnTaskSchema,
  context: taskContextSchema,
  callback_url: z.url({ protocol: /^https?$/ }),
  callback_token: z.string().min(1).max(LIMITS.callbackTokenMaxLength),
  callback_signing_secret: callbackSigningSecretSchema.optional(),
  /** (v2) The queue's order; `normal` when absent. */
  priority: z.enum(TASK_PRIORITIES).optional(),
});
export type SpawnRequest = z.infer<typeof spawnRequestSchema>;

export const idempotencyKeySchema = z.string().min(1).max(LIMITS.idempotencyKeyMaxLength);

export const spawnResponseSchema = z.object({
  session_id: z.string().min(1),
  status: z.enum(['pending', 'running']),
  created_at: timestampSchema,
});
export type SpawnResponse = z.infer<typeof spawnResponseSchema>;

export const sessionStatusResponseSchema = z.object({
  session_id: z.string().min(1),
  status: sessionStatusSchema,
  created_at: timestampSchema,
  started_at: timestampSchema.optional(),
  ended_at: timestampSchema.optional(),
  exit_code: z.number().int().optional(),
  error: z.string().optional(),
  /** (v2) The node that runs or ran the session. */
  node: z.string().min(1).optional(),
  /** (v2) 1-based place in the queue while `pending`. */
  queue_position: z.number().int().min(1).optional(),
});
export type SessionStatusResponse = z.infer<typeof sessionStatusResponseSchema>;

export const killResponseSchema = z.object({
  session_id: z.string().min(1),
  status: sessionStatusSchema,
});
export type KillResponse = z.infer<typeof killResponseSchema>;

/** (v2) Body of a graceful cancel; without `grace_ms` the orchestrator's CANCEL_GRACE_MS applies. */
export const cancelRequestSchema = z
  .strictObject({
    grace_ms: z
      .number()
      .int()
      .min(0)
      .max(LIMITS.cancelGraceMaxMs)
      .optional()
      .meta({ description: "milliseconds between SIGTERM and SIGKILL; the orchestrator's `CANCEL_GRACE_MS` when absent", example: 5000 }),
  })
  .meta({ description: 'how long the agent may take to stop' });
export type CancelRequest = z.infer<typeof cancelRequestSchema>;

export const cancelResponseSchema = killResponseSchema;
export type CancelResponse = KillResponse;

/**
 * An integer query parameter as written: an optional minus and decimal digits.
 * JavaScript's `Number` (and `z.coerce`) would also read `0x10`, `1e2`, ` 5` or
 * an empty string (as 0).
 */
export const queryInteger = z
  .string()
  .regex(/^-?[0-9]{1,15}$/, 'must be an integer in decimal digits')
  .transform(Number);

/**
 * Query of the orchestrator's list endpoint: strings in, typed out.
 * `idempotency_key` (an extension of the contract) finds the session a spawn
 * with that Idempotency-Key started, if any: a page of at most one, the last.
 */
export const listQuerySchema = z
  .strictObject({
    status: sessionStatusSchema.optional(),
    limit: queryInteger.pipe(z.number().int().min(1).max(LIMITS.listMaxLimit)).default(LIMITS.listDefaultLimit),
    cursor: z.string().min(1).max(512).optional(),
    idempotency_key: idempotencyKeySchema.optional(),
  })
  .refine((query) => query.cursor === undefined || query.idempotency_key === undefined, {
    path: ['cursor'],
    message: 'a list by idempotency_key has one page only',
  });
export type ListQuery = z.infer<typeof listQuerySchema>;

export const listResponseSchema = z.object({
  sessions: z.array(sessionStatusResponseSchema),
  next_cursor: z.string().nullable(),
});
export type ListResponse = z.infer<typeof listResponseSchema>;

/** (v2) A live node of the cluster, as `/health` reports it. */
export const clusterNodeSchema = z.object({
  id: z.string().min(1),
  active_sessions: z.number().int().min(0),
  capacity: z.number().int().min(1),
});
export type ClusterNode = z.infer<typeof clusterNodeSchema>;

export const orchestratorHealthSchema = z.object({
  status: z.literal('ok'),
  version: z.string(),
  active_sessions: z.number().int().min(0),
  /** (v2) This node's id, the cluster's queue depth and its live nodes; absent on a v1 orchestrator. */
  node: z.string().min(1).optional(),
  queued_sessions: z.number().int().min(0).optional(),
  nodes: z.array(clusterNodeSchema).optional(),
});
export type OrchestratorHealth = z.infer<typeof orchestratorHealthSchema>;

/**
 * The ORCHESTRATOR_API_KEY both services fall back to (with a warning) when it
 * is unset, so that a newcomer's `pnpm start` works without configuration.
 */
export const DEVELOPMENT_ORCHESTRATOR_API_KEY = 'mosaic-orchestrator-development-key';
