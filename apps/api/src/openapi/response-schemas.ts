import { ApiProperty, ApiSchema, type SchemaObject } from '@nestjs/swagger';
import { CALLBACK_EVENT_TYPES, TRACKED_SESSION_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import type { CallbackAck } from '../callbacks/callback-ingestion.service';
import type { SessionEventResponse } from '../callbacks/session-event.presenter';
import type { SessionResponse } from '../orchestrator-gateway/session.presenter';
import type { presentTask } from '../tasks/task.presenter';
import { TASK_PRIORITIES, type JsonObject, type TaskPriority, type TaskStatus } from '../tasks/task';

/*
 * The answers' OpenAPI schemas. Each class implements the type its presenter
 * returns, so a field added to a presenter and not documented here fails to compile.
 */

const SESSION_ID = '6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b';
const TASK_ID = 'c1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b';
const AT = '2026-01-01T12:00:00.000Z';

@ApiSchema({ name: 'Session', description: 'a session the API tracks' })
export class SessionSchema implements SessionResponse {
  @ApiProperty({ format: 'uuid', example: SESSION_ID })
  id!: string;

  @ApiProperty({ format: 'uuid', example: TASK_ID })
  task_id!: string;

  @ApiProperty({ type: String, nullable: true, description: '`null` until the orchestrator acknowledged the spawn', example: '0b7f3c52-9a51-4a8e-8d0c-5f7a0e1b2c3d' })
  orchestrator_session_id!: string | null;

  @ApiProperty({ enum: TRACKED_SESSION_STATUSES, example: 'running' })
  status!: TrackedSessionStatus;

  @ApiProperty({ description: 'which dispatch of the task this is, from 1', example: 1 })
  attempt!: number;

  @ApiProperty({ type: String, nullable: true, example: 'alice' })
  requested_by!: string | null;

  @ApiProperty({ description: 'highest callback `sequence` stored, 0 before the first', example: 4 })
  last_sequence!: number;

  @ApiProperty({ type: String, nullable: true, description: 'why the session failed (`lost`, `spawn failed: …`, the agent\'s error)', example: null })
  error!: string | null;

  @ApiProperty({ type: Number, nullable: true, example: null })
  exit_code!: number | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: AT })
  started_at!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  ended_at!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'when the last callback arrived', example: '2026-01-01T12:01:00.000Z' })
  last_event_at!: string | null;

  @ApiProperty({ format: 'date-time', example: AT })
  created_at!: string;

  @ApiProperty({ format: 'date-time', example: '2026-01-01T12:01:00.000Z' })
  updated_at!: string;
}

@ApiSchema({ name: 'SessionEvent', description: 'a stored callback event' })
export class SessionEventSchema implements SessionEventResponse {
  @ApiProperty({ example: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a' })
  event_id!: string;

  @ApiProperty({ example: 3 })
  sequence!: number;

  @ApiProperty({ enum: CALLBACK_EVENT_TYPES, example: 'progress' })
  type!: SessionEventResponse['type'];

  @ApiProperty({ type: String, enum: ['pending', 'running', 'completed', 'failed', 'killed'], nullable: true, example: 'running' })
  status!: SessionEventResponse['status'];

  @ApiProperty({ format: 'date-time', description: 'when the orchestrator says it happened', example: '2026-01-01T12:01:00.000Z' })
  timestamp!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'as the callback carried it', example: { message: 'step 2 of 4', percent: 50 } })
  data!: unknown;

  @ApiProperty({ format: 'date-time', description: 'when the API stored it', example: '2026-01-01T12:01:00.020Z' })
  received_at!: string;
}

@ApiSchema({ name: 'SessionWithEvents', description: 'a tracked session with its stored callback events' })
export class SessionWithEventsSchema extends SessionSchema {
  @ApiProperty({ type: [SessionEventSchema], description: 'stored callback events, in `sequence` order' })
  events!: SessionEventSchema[];
}

@ApiSchema({ name: 'SessionPage', description: 'one page of tracked sessions' })
export class SessionPageSchema {
  @ApiProperty({ type: [SessionSchema], description: 'newest first' })
  sessions!: SessionSchema[];

  @ApiProperty({ type: String, nullable: true, description: 'pass as `cursor` for the next page; `null` on the last page', example: 'eyJjIjoiMjAyNi0wMS0wMVQxMjowMDowMC4wMDBaIn0' })
  next_cursor!: string | null;
}

@ApiSchema({ name: 'Task', description: 'a Mosaic task' })
export class TaskSchema implements ReturnType<typeof presentTask> {
  @ApiProperty({ format: 'uuid', example: TASK_ID })
  id!: string;

  @ApiProperty({ example: 'Summarise the quarterly report' })
  title!: string;

  @ApiProperty({ type: String, nullable: true, example: 'Two pages, for the board.' })
  description!: string | null;

  @ApiProperty({ enum: ['open', ...TRACKED_SESSION_STATUSES], description: '`open` until dispatched, then its latest session\'s status', example: 'open' })
  status!: TaskStatus;

  @ApiProperty({ enum: TASK_PRIORITIES, example: 'normal' })
  priority!: TaskPriority;

  @ApiProperty({ type: [String], example: ['reports'] })
  labels!: string[];

  @ApiProperty({ type: 'object', additionalProperties: true, example: { quarter: 'Q4' } })
  metadata!: JsonObject;

  @ApiProperty({ format: 'date-time', example: AT })
  created_at!: string;

  @ApiProperty({ format: 'date-time', example: AT })
  updated_at!: string;

  @ApiProperty({ type: SessionSchema, nullable: true, description: 'the latest session, `null` before the first dispatch' })
  session!: SessionSchema | null;
}

@ApiSchema({ name: 'Dispatch', description: 'the session a dispatch started' })
export class DispatchSchema {
  @ApiProperty({ format: 'uuid', example: TASK_ID })
  task_id!: string;

  @ApiProperty({ type: SessionSchema })
  session!: SessionSchema;
}

@ApiSchema({ name: 'CallbackAck', description: 'the answer to an accepted callback' })
export class CallbackAckSchema implements CallbackAck {
  @ApiProperty({ enum: [true], example: true })
  accepted!: true;

  @ApiProperty({ description: '`true` when an event with this `event_id` had been stored before', example: false })
  duplicate!: boolean;
}

/** `@nestjs/terminus`'s report, as `/health` and `/health/orchestrator` send it with 200 and 503 alike. */
export const HEALTH_REPORT_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['status', 'info', 'error', 'details'],
  properties: {
    status: { type: 'string', enum: ['ok', 'error', 'shutting_down'] },
    info: { type: 'object', additionalProperties: { type: 'object' }, nullable: true },
    error: { type: 'object', additionalProperties: { type: 'object' }, nullable: true },
    details: { type: 'object', additionalProperties: { type: 'object' } },
  },
};

const ORCHESTRATOR_UP = { status: 'up', latency_ms: 4, active_sessions: 3, version: '0.1.0', circuit: 'closed' };
const ORCHESTRATOR_DOWN = { status: 'down', reason: 'unreachable', message: 'the orchestrator is unreachable', circuit: 'closed' };

export const HEALTHY_EXAMPLE = {
  status: 'ok',
  info: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_UP },
  error: {},
  details: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_UP },
};

export const UNHEALTHY_EXAMPLE = {
  status: 'error',
  info: { database: { status: 'up' } },
  error: { orchestrator: ORCHESTRATOR_DOWN },
  details: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_DOWN },
};
