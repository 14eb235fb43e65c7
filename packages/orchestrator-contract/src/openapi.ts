import { z } from 'zod';
import { createdOperatorKeySchema, createOperatorKeySchema, operatorKeyListSchema, operatorKeySchema } from './api-operator-keys';
import { healthReportSchema } from './api-health';
import {
  artifactListSchema,
  artifactSummarySchema,
  sessionEventPageSchema,
  sessionEventSchema,
  sessionPageSchema,
  sessionSchema,
  sessionWithEventsSchema,
  usageSchema,
} from './api-sessions';
import { budgetSchema, createTaskSchema, dispatchSchema, dispatchTaskSchema, taskBudgetSchema, taskSchema } from './api-tasks';
import { dailyUsageSchema } from './api-usage';
import { callbackAckSchema, callbackEventSchema } from './callbacks';
import { type ErrorCode, errorBody, errorBodySchema } from './errors';
import {
  cancelRequestSchema,
  killResponseSchema,
  listResponseSchema,
  orchestratorHealthSchema,
  sessionStatusResponseSchema,
  spawnRequestSchema,
  spawnResponseSchema,
} from './gateway';

/** A JSON Schema in the OpenAPI 3.0 dialect, ready to be a document's `components.schemas` entry. */
type OpenApiSchema = Record<string, unknown>;

const SESSION_ID = '0b7f3c52-9a51-4a8e-8d0c-5f7a0e1b2c3d';
const MOSAIC_SESSION_ID = '6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b';
const CREATED_AT = '2026-01-01T12:00:00.000Z';

interface WireType {
  readonly schema: z.ZodType;
  /** Requests are described as they are sent (zod's input side), answers as they are produced (its output side). */
  readonly io: 'input' | 'output';
  readonly example: unknown;
}

/** The wire types both services document, each with an example that its schema accepts (see openapi.spec.ts). */
export const WIRE_TYPES = {
  ErrorBody: wire(errorBodySchema, 'output', {
    error: { code: 'not_found', message: `no session with id ${SESSION_ID}` },
  }),
  SpawnRequest: wire(spawnRequestSchema, 'input', {
    task: { id: 'c1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b', title: 'Summarise the quarterly report', priority: 'normal', labels: ['reports'] },
    context: { schema_version: 1, session: { id: MOSAIC_SESSION_ID, attempt: 1 } },
    callback_url: `http://api.example/orchestrator/callbacks/${MOSAIC_SESSION_ID}`,
    callback_token: 'mcb_2Vt0b3JlLXRoaXMtdG9rZW4tc2VjcmV0bHk',
    priority: 'high',
  }),
  SpawnResponse: wire(spawnResponseSchema, 'output', { session_id: SESSION_ID, status: 'pending', created_at: CREATED_AT }),
  SessionStatusResponse: wire(sessionStatusResponseSchema, 'output', {
    session_id: SESSION_ID,
    status: 'failed',
    created_at: CREATED_AT,
    started_at: CREATED_AT,
    ended_at: '2026-01-01T12:04:10.000Z',
    exit_code: 2,
    error: 'the agent exited with code 2',
    node: 'orchestrator-a:3100',
  }),
  KillResponse: wire(killResponseSchema, 'output', { session_id: SESSION_ID, status: 'killed' }),
  CancelRequest: wire(cancelRequestSchema, 'input', { grace_ms: 5000 }),
  ListResponse: wire(listResponseSchema, 'output', {
    sessions: [
      { session_id: SESSION_ID, status: 'running', created_at: CREATED_AT, started_at: CREATED_AT, node: 'orchestrator-a:3100' },
      { session_id: MOSAIC_SESSION_ID, status: 'pending', created_at: CREATED_AT, queue_position: 1 },
    ],
    next_cursor: 'YjNmMXE6NDI',
  }),
  OrchestratorHealth: wire(orchestratorHealthSchema, 'output', {
    status: 'ok',
    version: '0.1.0',
    active_sessions: 3,
    node: 'orchestrator-a:3100',
    queued_sessions: 12,
    nodes: [
      { id: 'orchestrator-a:3100', active_sessions: 3, capacity: 64 },
      { id: 'orchestrator-b:3100', active_sessions: 64, capacity: 64 },
    ],
  }),
  CallbackEvent: wire(callbackEventSchema, 'input', {
    event_id: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a',
    session_id: SESSION_ID,
    sequence: 3,
    type: 'progress',
    status: 'running',
    timestamp: '2026-01-01T12:01:00.000Z',
    data: { message: 'step 2 of 4', percent: 50 },
  }),
} as const satisfies Record<string, WireType>;

/**
 * The Mosaic API's own shapes (contract section 4), under the names its
 * document gives them: requests as they are sent, answers as they are produced.
 * They refer to each other by these names.
 */
const API_REQUESTS = {
  CreateTask: createTaskSchema,
  Budget: budgetSchema,
  DispatchTask: dispatchTaskSchema,
  CreateOperatorKey: createOperatorKeySchema,
  CancelSession: cancelRequestSchema,
} as const satisfies Record<string, z.ZodType>;

const API_ANSWERS = {
  Usage: usageSchema,
  Session: sessionSchema,
  SessionEvent: sessionEventSchema,
  SessionWithEvents: sessionWithEventsSchema,
  SessionEventPage: sessionEventPageSchema,
  ArtifactSummary: artifactSummarySchema,
  ArtifactList: artifactListSchema,
  SessionPage: sessionPageSchema,
  TaskBudget: taskBudgetSchema,
  Task: taskSchema,
  Dispatch: dispatchSchema,
  CallbackAck: callbackAckSchema,
  OperatorKey: operatorKeySchema,
  CreatedOperatorKey: createdOperatorKeySchema,
  OperatorKeyList: operatorKeyListSchema,
  DailyUsage: dailyUsageSchema,
  HealthReport: healthReportSchema,
} as const satisfies Record<string, z.ZodType>;

export type WireSchemaName = keyof typeof WIRE_TYPES;
export type ApiSchemaName = keyof typeof API_REQUESTS | keyof typeof API_ANSWERS;

/** The Mosaic API's own request and answer shapes, each by its name in the API's document. */
export const API_WIRE_SCHEMAS: Readonly<Record<ApiSchemaName, z.ZodType>> = { ...API_REQUESTS, ...API_ANSWERS };

/**
 * OpenAPI components of the wire types, generated from the same zod schemas
 * that validate them, so that the services' documents cannot drift from what
 * they accept.
 */
export function wireOpenApiSchemas(names: readonly WireSchemaName[]): Record<string, OpenApiSchema> {
  return Object.fromEntries(names.map((name) => [name, openApiSchema(WIRE_TYPES[name])]));
}

/** OpenAPI components of every shape of `API_WIRE_SCHEMAS`, each referring to the others by `$ref`. */
export function apiOpenApiSchemas(): Record<string, OpenApiSchema> {
  return { ...registeredOpenApiSchemas(API_REQUESTS, 'input'), ...registeredOpenApiSchemas(API_ANSWERS, 'output') };
}

/**
 * OpenAPI parameters of a query, one per field of its schema: required when
 * it has no default, described as the value it is read as.
 */
export function queryParameters(schema: z.ZodObject): QueryParameter[] {
  const read = toOpenApi(schema, 'output') as { properties: Record<string, OpenApiSchema> };
  const sent = toOpenApi(schema, 'input') as { required?: string[] };
  return Object.entries(read.properties).map(([name, { description, ...property }]) => ({
    name,
    required: sent.required?.includes(name) ?? false,
    ...(typeof description === 'string' && { description }),
    schema: property,
  }));
}

export interface QueryParameter {
  readonly name: string;
  readonly required: boolean;
  readonly description?: string;
  readonly schema: OpenApiSchema;
}

/** `$ref` of a wire type registered under its name in a document's components. */
export function wireSchemaRef(name: WireSchemaName | ApiSchemaName): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

function wire(schema: z.ZodType, io: WireType['io'], example: unknown): WireType {
  return { schema, io, example };
}

function openApiSchema({ schema, io, example }: WireType): OpenApiSchema {
  return { ...toOpenApi(schema, io), example };
}

function registeredOpenApiSchemas(schemas: Record<string, z.ZodType>, io: WireType['io']): Record<string, OpenApiSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: components } = z.toJSONSchema(registry, { ...OPENAPI, io, uri: (id) => wireSchemaRef(id as ApiSchemaName).$ref });
  return Object.fromEntries(Object.entries(components).map(([name, { $id: _id, ...component }]) => [name, component]));
}

function toOpenApi(schema: z.ZodType, io: WireType['io']): OpenApiSchema {
  return z.toJSONSchema(schema, { ...OPENAPI, io });
}

const OPENAPI = {
  target: 'openapi-3.0',
  override: ({ jsonSchema }) => {
    // zod adds its regular expression to every timestamp and UUID; `format` already says it.
    if (jsonSchema.format === 'date-time' || jsonSchema.format === 'date' || jsonSchema.format === 'uuid') delete jsonSchema.pattern;
    // Nor is a safe integer's range a limit of the wire.
    if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
    if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  },
} as const satisfies Parameters<typeof z.toJSONSchema>[1];

/** One documented error answer: when it happens, and the `error.code` it carries. */
export interface ErrorAnswer {
  readonly when: string;
  readonly code: ErrorCode;
}

/**
 * The OpenAPI responses of error answers, keyed by status, each in the
 * contract's error shape with an example body: what both services hand to
 * `@ApiResponse`.
 */
export function errorAnswerResponses(answers: Readonly<Record<number, ErrorAnswer>>) {
  return Object.entries(answers).map(([status, { when, code }]) => ({
    status: Number(status),
    description: when,
    content: { 'application/json': { schema: wireSchemaRef('ErrorBody'), example: errorBody(code, when) } },
  }));
}
