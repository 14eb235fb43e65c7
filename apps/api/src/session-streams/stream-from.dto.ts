import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { QueryInteger } from '../http/query-integer';

export class StreamFromDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 0, description: 'start after this `sequence` (`Last-Event-ID` wins when both are given); from the first event without either' })
  @IsOptional()
  @QueryInteger()
  @IsInt()
  @Min(0)
  @Max(2_147_483_647)
  after_sequence?: number;
}
