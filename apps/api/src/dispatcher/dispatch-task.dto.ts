import { ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { IsStorableText } from '../http/storable.validators';

/** Optional body of `POST /tasks/:id/dispatch`. */
@ApiSchema({ name: 'DispatchTask' })
export class DispatchTaskDto {
  /** Who asked for the dispatch, recorded on the session and handed to the agent. */
  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'who asked; recorded on the session and handed to the agent', example: 'alice' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsStorableText()
  requested_by?: string;
}
