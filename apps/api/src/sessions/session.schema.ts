import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { TRACKED_SESSION_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { SessionEventSchema } from './session-event.schema';
import type { SessionResponse } from './session.presenter';

/*
 * The OpenAPI schemas of the answers that carry sessions. Each class implements
 * the type its presenter returns, so a field added to the presenter and not
 * documented here fails to compile.
 */

/** Example values, shared by the examples of every answer that carries a session or a task. */
const EXAMPLE_SESSION_ID = '6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b';
export const EXAMPLE_TASK_ID = 'c1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b';
export const EXAMPLE_AT = '2026-01-01T12:00:00.000Z';

@ApiSchema({ name: 'Usage', description: 'what was spent: the sums of the usage events' })
export class UsageSchema {
  @ApiProperty({ example: 1200 })
  input_tokens!: number;

  @ApiProperty({ example: 300 })
  output_tokens!: number;

  @ApiProperty({ description: 'US dollars', example: 0.0081 })
  cost_usd!: number;
}

@ApiSchema({ name: 'Session', description: 'a session the API tracks' })
export class SessionSchema implements SessionResponse {
  @ApiProperty({ format: 'uuid', example: EXAMPLE_SESSION_ID })
  id!: string;

  @ApiProperty({ format: 'uuid', example: EXAMPLE_TASK_ID })
  task_id!: string;

  @ApiProperty({ description: 'its task\'s title', example: 'Fix the login redirect' })
  task_title!: string;

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

  @ApiProperty({ type: String, nullable: true, description: 'the orchestrator node that runs or ran it, as last reported', example: 'orchestrator-a:3100' })
  node!: string | null;

  @ApiProperty({ type: Number, nullable: true, description: 'its 1-based place in the orchestrator\'s queue while `pending`, as last reported; `null` otherwise', example: null })
  queue_position!: number | null;

  @ApiProperty({ type: UsageSchema, description: 'what its agent reported spending (sums of its usage events)' })
  usage!: UsageSchema;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: EXAMPLE_AT })
  started_at!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  ended_at!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'when the last callback arrived', example: '2026-01-01T12:01:00.000Z' })
  last_event_at!: string | null;

  @ApiProperty({ format: 'date-time', example: EXAMPLE_AT })
  created_at!: string;

  @ApiProperty({ format: 'date-time', example: '2026-01-01T12:01:00.000Z' })
  updated_at!: string;
}

@ApiSchema({ name: 'SessionWithEvents', description: 'a tracked session with its stored callback events' })
export class SessionWithEventsSchema extends SessionSchema {
  @ApiProperty({ type: [SessionEventSchema], description: 'the last 200 stored callback events, in `sequence` order' })
  events!: SessionEventSchema[];

  @ApiProperty({ description: 'there are older events than `events` holds', example: false })
  events_truncated!: boolean;
}

@ApiSchema({ name: 'SessionEventPage', description: 'one page of a session\'s stored callback events' })
export class EventPageSchema {
  @ApiProperty({ type: [SessionEventSchema], description: 'in `sequence` order' })
  events!: SessionEventSchema[];

  @ApiProperty({ type: Number, nullable: true, description: 'pass as `after_sequence` for the next page; `null` on the last page', example: 200 })
  next_after_sequence!: number | null;
}

@ApiSchema({ name: 'SessionPage', description: 'one page of tracked sessions' })
export class SessionPageSchema {
  @ApiProperty({ type: [SessionSchema], description: 'newest first' })
  sessions!: SessionSchema[];

  @ApiProperty({ type: String, nullable: true, description: 'pass as `cursor` for the next page; `null` on the last page', example: 'eyJjIjoiMjAyNi0wMS0wMVQxMjowMDowMC4wMDBaIn0' })
  next_cursor!: string | null;
}
