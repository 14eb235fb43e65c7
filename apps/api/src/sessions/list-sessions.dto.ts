import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { QueryInteger } from '../http/query-integer';
import { EVENT_PAGE_LIMITS } from './session-event.repository';
import { LIMITS, TRACKED_SESSION_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';

export class ListSessionsDto {
  @ApiPropertyOptional({ enum: TRACKED_SESSION_STATUSES, description: 'only sessions with this status' })
  @IsOptional()
  @IsIn(TRACKED_SESSION_STATUSES)
  status?: TrackedSessionStatus;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: LIMITS.listMaxLimit, default: LIMITS.listDefaultLimit })
  @IsOptional()
  @QueryInteger()
  @IsInt()
  @Min(1)
  @Max(LIMITS.listMaxLimit)
  limit: number = LIMITS.listDefaultLimit;

  @ApiPropertyOptional({ maxLength: 512, description: 'the `next_cursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export class GetSessionDto {
  @ApiPropertyOptional({ enum: ['true', 'false'], description: '`true` asks the orchestrator for the status first' })
  @IsOptional()
  @IsIn(['true', 'false'])
  refresh?: 'true' | 'false';
}

export class EventPageDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 0, default: 0, description: 'only events with a greater `sequence`: the `next_after_sequence` of the previous page' })
  @IsOptional()
  @QueryInteger()
  @IsInt()
  @Min(0)
  @Max(2_147_483_647)
  after_sequence: number = 0;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: EVENT_PAGE_LIMITS.max, default: EVENT_PAGE_LIMITS.default })
  @IsOptional()
  @QueryInteger()
  @IsInt()
  @Min(1)
  @Max(EVENT_PAGE_LIMITS.max)
  limit: number = EVENT_PAGE_LIMITS.default;
}
