import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { EXAMPLE_TASK_ID, SessionSchema } from '../sessions/session.schema';
import type { DispatchResponse } from './dispatch.presenter';

@ApiSchema({ name: 'Dispatch', description: 'the session a dispatch started' })
export class DispatchSchema implements DispatchResponse {
  @ApiProperty({ format: 'uuid', example: EXAMPLE_TASK_ID })
  task_id!: string;

  @ApiProperty({ type: SessionSchema })
  session!: SessionSchema;
}
