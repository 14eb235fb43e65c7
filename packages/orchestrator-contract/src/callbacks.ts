import { z } from 'zod';
import { LIMITS, sessionStatusSchema, timestampSchema } from './gateway';
import { jsonEncodedBytes, unstorableText } from './json';

/** The API's callback endpoint (docs/contract.md §3), as Fastify names the route; `:sessionId` is the API's session id. */
export const CALLBACK_ROUTE = '/orchestrator/callbacks/:sessionId';

/** The callback endpoint's path for one API session. */
export function callbackPath(sessionId: string): string {
  return CALLBACK_ROUTE.replace(':sessionId', encodeURIComponent(sessionId));
}

export const CALLBACK_EVENT_TYPES = ['status', 'progress', 'log', 'result', 'usage', 'artifact'] as const;
export type CallbackEventType = (typeof CALLBACK_EVENT_TYPES)[number];

/**
 * Every string of a callback is stored, so each refuses what PostgreSQL
 * would: a callback it cannot store is the sender's mistake (a 400), not a
 * fault of the API.
 */
function storable(text: z.ZodString): z.ZodString {
  return text.superRefine((value, context) => {
    const problem = unstorableText(value);
    if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
  });
}

/** An exit code as PostgreSQL's `int` holds it. */
const exitCodeSchema = z.int32();

export const progressDataSchema = z.strictObject({
  message: storable(z.string().max(4096)),
  percent: z.number().min(0).max(100).optional(),
});
export const logDataSchema = z.strictObject({
  stream: z.enum(['stdout', 'stderr']),
  // Each UTF-16 unit takes at least a byte: a line longer in units is refused without walking it.
  line: storable(z.string().max(LIMITS.logLineMaxEncodedBytes, { abort: true })).refine(
    (line) => jsonEncodedBytes(line) <= LIMITS.logLineMaxEncodedBytes,
    {
      message: `longer than ${LIMITS.logLineMaxEncodedBytes} bytes as JSON-encoded UTF-8`,
    },
  ),
});
export const resultDataSchema = z.strictObject({
  exit_code: exitCodeSchema.optional(),
  summary: storable(z.string().max(16 * 1024)).optional(),
  error: storable(z.string().max(4096)).optional(),
  /** (v3) The branch pushed for a task that asked `repository.push`. */
  branch: storable(z.string().max(255)).optional(),
});
/**
 * The most one usage report may count (contract v2, `usage`): far above what
 * one model call spends (a million-token context costs a few dollars), low
 * enough that no sum of reports overflows what the API keeps (bigint tokens,
 * numeric dollars) and that a garbage value is refused rather than counted.
 */
export const USAGE_LIMITS = { tokensPerReport: 100_000_000, costUsdPerReport: 100_000 } as const;

const tokenCount = z.int().min(0).max(USAGE_LIMITS.tokensPerReport);

/** What an agent spent since its previous usage report: at least one of the counts. */
export const usageDataSchema = z
  .strictObject({
    input_tokens: tokenCount.optional(),
    output_tokens: tokenCount.optional(),
    cost_usd: z.number().min(0).max(USAGE_LIMITS.costUsdPerReport).optional(),
    model: storable(z.string().min(1).max(200)).optional(),
  })
  .refine((usage) => usage.input_tokens !== undefined || usage.output_tokens !== undefined || usage.cost_usd !== undefined, {
    message: 'a usage report counts at least one of input_tokens, output_tokens, cost_usd',
  });
export type UsageData = z.infer<typeof usageDataSchema>;

/** (v3) ARTIFACT_MAX_BYTES' default: the most of one artifact's content a callback carries. */
export const ARTIFACT_DEFAULT_MAX_BYTES = 5 * 1024 * 1024;

/**
 * (v3) An artifact's name: `changes.patch`, `changes.json`, or `out/<path>` for what an agent without a repository
 * wrote; path segments of letters, digits and `._-`, none of them `.` or `..`, so that a name is never a path elsewhere.
 */
export const artifactNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be path segments of letters, digits and . _ -')
  .refine((name) => name.split('/').every((segment) => segment !== '.' && segment !== '..'), 'must not have . or .. segments');

/** (v3) `type` `artifact` (contract 7.2): one file the session produced, whole or cut at ARTIFACT_MAX_BYTES (`truncated`). */
export const artifactDataSchema = z.strictObject({
  name: artifactNameSchema,
  media_type: z
    .string()
    .max(255)
    .regex(/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/, 'must be a media type such as text/x-diff'),
  /** The whole artifact's size in bytes, also when what is sent was cut. */
  size: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Of the content sent. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
  content_base64: z.base64(),
  truncated: z.boolean().optional(),
});
export type ArtifactData = z.infer<typeof artifactDataSchema>;

/** The body limit of a callback that carries an artifact of at most `maxBytes`: its base64 and the envelope. */
export function artifactCallbackMaxBytes(maxBytes: number): number {
  return Math.ceil(maxBytes / 3) * 4 + 4 * 1024;
}

const statusDataSchema = z.strictObject({
  exit_code: exitCodeSchema.optional(),
  /** (v2) The node that runs the session, on its `running` event. */
  node: storable(z.string().min(1).max(255)).optional(),
  error: storable(z.string().max(4096)).optional(),
});

const envelope = {
  event_id: storable(z.string().min(1).max(255)),
  session_id: storable(z.string().min(1).max(255)),
  sequence: z.number().int().min(1).max(2_147_483_647),
  timestamp: timestampSchema,
};

/** One callback event (docs/contract.md §3); `status` is required for `status` and `result`. */
export const callbackEventSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...envelope, type: z.literal('status'), status: sessionStatusSchema, data: statusDataSchema.default({}) }),
  z.strictObject({ ...envelope, type: z.literal('result'), status: sessionStatusSchema, data: resultDataSchema }),
  z.strictObject({ ...envelope, type: z.literal('progress'), status: sessionStatusSchema.optional(), data: progressDataSchema }),
  z.strictObject({ ...envelope, type: z.literal('log'), status: sessionStatusSchema.optional(), data: logDataSchema }),
  z.strictObject({ ...envelope, type: z.literal('usage'), status: sessionStatusSchema.optional(), data: usageDataSchema }),
  z.strictObject({ ...envelope, type: z.literal('artifact'), status: sessionStatusSchema.optional(), data: artifactDataSchema }),
]);
export type CallbackEvent = z.infer<typeof callbackEventSchema>;

/** The API's `202` to a callback: the event is safe with it; `duplicate` says it had been stored before. */
export const callbackAckSchema = z
  .object({
    accepted: z.literal(true).meta({ example: true }),
    duplicate: z.boolean().meta({ description: '`true` when an event with this `event_id` had been stored before', example: false }),
  })
  .meta({ description: 'the answer to an accepted callback' });
export type CallbackAck = z.infer<typeof callbackAckSchema>;
