import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { CALLBACK_EVENT_TYPES } from '@mosaic/orchestrator-contract';
import type { SessionEventResponse } from './session-event.presenter';

/** A stored event's OpenAPI schema; it implements the presenter's type, so an undocumented field fails to compile. */
@ApiSchema({ name: 'SessionEvent', description: 'a stored callback event' })
export class SessionEventSchema implements SessionEventResponse {
  @ApiProperty({ example: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a' })
  event_id!: string;

  @ApiProperty({ example: 3 })
  sequence!: number;

  @ApiProperty({ enum: CALLBACK_EVENT_TYPES, example: 'progress' })
  type!: SessionEventResponse['type'];

  @ApiProperty({ type: String, enum: ['pending', 'running', 'completed', 'failed', 'killed', 'cancelled'], nullable: true, example: 'running' })
  status!: SessionEventResponse['status'];

  @ApiProperty({ format: 'date-time', description: 'when the orchestrator says it happened', example: '2026-01-01T12:01:00.000Z' })
  timestamp!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'as the callback carried it', example: { message: 'step 2 of 4', percent: 50 } })
  data!: unknown;

  @ApiProperty({ format: 'date-time', description: 'when the API stored it', example: '2026-01-01T12:01:00.020Z' })
  received_at!: string;
}
