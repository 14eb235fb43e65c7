import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { CallbackAck } from './callback-ingestion.service';

@ApiSchema({ name: 'CallbackAck', description: 'the answer to an accepted callback' })
export class CallbackAckSchema implements CallbackAck {
  @ApiProperty({ enum: [true], example: true })
  accepted!: true;

  @ApiProperty({ description: '`true` when an event with this `event_id` had been stored before', example: false })
  duplicate!: boolean;
}
