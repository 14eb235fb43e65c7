import { z } from 'zod';
import { boundedText } from './api-text';
import { CALLBACK_EVENT_TYPES } from './callbacks';
import { LIMITS, queryInteger, timestampSchema } from './gateway';
import { uuidSchema } from './ids';
import { TRACKED_SESSION_STATUSES } from './statuses';

/*
 * The Mosaic API's sessions on the wire (contract section 4): what its
 * answers carry, and the queries that page through them.
 */

/** Example values, shared by the examples of every answer that carries a session or a task. */
export const API_EXAMPLES = {
  sessionId: '6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b',
  taskId: 'c1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b',
  at: '2026-01-01T12:00:00.000Z',
  later: '2026-01-01T12:01:00.000Z',
} as const;

/** How many events one page of `GET /orchestrator/sessions/:id/events` holds. */
export const EVENT_PAGE_LIMITS = { default: 200, max: 1_000 } as const;

/** The largest `sequence` a callback may carry, and so the largest position to read events after. */
export const MAX_SEQUENCE = 2_147_483_647;

export const trackedSessionStatusSchema = z.enum(TRACKED_SESSION_STATUSES);

const count = z.int().min(0);

export const usageSchema = z
  .object({
    input_tokens: count.meta({ example: 1200 }),
    output_tokens: count.meta({ example: 300 }),
    cost_usd: z.number().min(0).meta({ description: 'US dollars', example: 0.0081 }),
  })
  .meta({ description: 'what was spent: the sums of the usage events' });
export type Usage = z.infer<typeof usageSchema>;

export const sessionSchema = z
  .object({
    id: uuidSchema.meta({ example: API_EXAMPLES.sessionId }),
    task_id: uuidSchema.meta({ example: API_EXAMPLES.taskId }),
    task_title: z.string().meta({ description: "its task's title", example: 'Fix the login redirect' }),
    orchestrator_session_id: z
      .string()
      .nullable()
      .meta({ description: '`null` until the orchestrator acknowledged the spawn', example: '0b7f3c52-9a51-4a8e-8d0c-5f7a0e1b2c3d' }),
    status: trackedSessionStatusSchema.meta({ example: 'running' }),
    attempt: z.int().min(1).meta({ description: 'which dispatch of the task this is, from 1', example: 1 }),
    requested_by: z.string().nullable().meta({ example: 'alice' }),
    last_sequence: z.int().min(0).meta({ description: 'highest callback `sequence` stored, 0 before the first', example: 4 }),
    error: z
      .string()
      .nullable()
      .meta({ description: "why the session failed (`lost`, `spawn failed: …`, the agent's error)", example: null }),
    exit_code: z.int().nullable().meta({ example: null }),
    node: z
      .string()
      .nullable()
      .meta({ description: 'the orchestrator node that runs or ran it, as last reported', example: 'orchestrator-a:3100' }),
    queue_position: z.int().min(1).nullable().meta({
      description: "its 1-based place in the orchestrator's queue while `pending`, as last reported; `null` otherwise",
      example: null,
    }),
    usage: usageSchema.meta({ description: 'what its agent reported spending (sums of its usage events)' }),
    started_at: timestampSchema.nullable().meta({ example: API_EXAMPLES.at }),
    ended_at: timestampSchema.nullable().meta({ example: null }),
    last_event_at: timestampSchema.nullable().meta({ description: 'when the last callback arrived', example: API_EXAMPLES.later }),
    created_at: timestampSchema.meta({ example: API_EXAMPLES.at }),
    updated_at: timestampSchema.meta({ example: API_EXAMPLES.later }),
  })
  .meta({ description: 'a session the API tracks' });
export type Session = z.infer<typeof sessionSchema>;

export const sessionEventSchema = z
  .object({
    event_id: z.string().meta({ example: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a' }),
    sequence: z.int().min(0).meta({ example: 3 }),
    type: z.enum(CALLBACK_EVENT_TYPES).meta({ example: 'progress' }),
    status: trackedSessionStatusSchema.nullable().meta({
      description: "`null` for progress and log events that carried none; `spawning` on the API's own record of a dispatch",
      example: 'running',
    }),
    timestamp: timestampSchema.meta({ description: 'when the orchestrator says it happened', example: API_EXAMPLES.later }),
    data: z
      .record(z.string(), z.unknown())
      .meta({ description: 'as the callback carried it', example: { message: 'step 2 of 4', percent: 50 } }),
    received_at: timestampSchema.meta({ description: 'when the API stored it', example: '2026-01-01T12:01:00.020Z' }),
  })
  .meta({ description: 'a stored callback event' });
export type SessionEvent = z.infer<typeof sessionEventSchema>;

export const sessionWithEventsSchema = sessionSchema
  .extend({
    events: z.array(sessionEventSchema).meta({ description: 'the last 200 stored callback events, in `sequence` order' }),
    events_truncated: z.boolean().meta({ description: 'there are older events than `events` holds', example: false }),
  })
  .meta({ description: 'a tracked session with its stored callback events' });
export type SessionWithEvents = z.infer<typeof sessionWithEventsSchema>;

export const sessionEventPageSchema = z
  .object({
    events: z.array(sessionEventSchema).meta({ description: 'in `sequence` order' }),
    next_after_sequence: z
      .int()
      .min(0)
      .nullable()
      .meta({ description: 'pass as `after_sequence` for the next page; `null` on the last page', example: 200 }),
  })
  .meta({ description: "one page of a session's stored callback events" });
export type SessionEventPage = z.infer<typeof sessionEventPageSchema>;

export const sessionPageSchema = z
  .object({
    sessions: z.array(sessionSchema).meta({ description: 'newest first' }),
    next_cursor: z.string().nullable().meta({
      description: 'pass as `cursor` for the next page; `null` on the last page',
      example: 'eyJjIjoiMjAyNi0wMS0wMVQxMjowMDowMC4wMDBaIn0',
    }),
  })
  .meta({ description: 'one page of tracked sessions' });
export type SessionPage = z.infer<typeof sessionPageSchema>;

/** An integer query parameter (`queryInteger`) from `min` to `max`. */
function integerParameter(min: number, max: number) {
  return queryInteger.pipe(z.int().min(min).max(max));
}

const afterSequence = integerParameter(0, MAX_SEQUENCE);

/** `GET /orchestrator/sessions`: a filter and a page. */
export const listSessionsQuerySchema = z.strictObject({
  status: trackedSessionStatusSchema.optional().meta({ description: 'only sessions with this status' }),
  limit: integerParameter(1, LIMITS.listMaxLimit).default(LIMITS.listDefaultLimit),
  cursor: boundedText({ max: 512 }).optional().meta({ description: 'the `next_cursor` of the previous page' }),
});

/** `GET /orchestrator/sessions/:id`. */
export const getSessionQuerySchema = z.strictObject({
  refresh: z.enum(['true', 'false']).optional().meta({ description: '`true` asks the orchestrator for the status first' }),
});

/** `GET /orchestrator/sessions/:id/events`. */
export const eventPageQuerySchema = z.strictObject({
  after_sequence: afterSequence
    .default(0)
    .meta({ description: 'only events with a greater `sequence`: the `next_after_sequence` of the previous page' }),
  limit: integerParameter(1, EVENT_PAGE_LIMITS.max).default(EVENT_PAGE_LIMITS.default),
});

/** `GET /orchestrator/sessions/:id/events/stream`. */
export const streamFromQuerySchema = z.strictObject({
  after_sequence: afterSequence
    .optional()
    .meta({ description: 'start after this `sequence` (`Last-Event-ID` wins when both are given); from the first event without either' }),
});

/** (v3) `GET /orchestrator/sessions/:id/artifacts` (contract 7.2): what its agent produced, without the contents. */
export const artifactSummarySchema = z
  .object({
    name: z.string().meta({ example: 'changes.patch' }),
    media_type: z.string().meta({ example: 'text/x-diff' }),
    size: z.int().min(0).meta({ description: 'bytes of the whole artifact', example: 1234 }),
    sha256: z.string().meta({ description: 'of the content stored', example: 'a'.repeat(64) }),
    truncated: z.boolean().meta({ description: 'the content stored is cut at ARTIFACT_MAX_BYTES', example: false }),
    created_at: timestampSchema.meta({ example: API_EXAMPLES.later }),
  })
  .meta({ description: 'an artifact of a session' });
export type ArtifactSummary = z.infer<typeof artifactSummarySchema>;

export const artifactListSchema = z
  .object({ artifacts: z.array(artifactSummarySchema).meta({ description: 'by name' }) })
  .meta({ description: "a session's artifacts" });
export type ArtifactList = z.infer<typeof artifactListSchema>;

/** (v3) `changes.json`: one entry per file the agent changed. */
export const changedFileSchema = z.object({
  path: z.string(),
  status: z.enum(['added', 'modified', 'deleted', 'renamed']),
  additions: z.int().min(0),
  deletions: z.int().min(0),
});
export type ChangedFile = z.infer<typeof changedFileSchema>;
