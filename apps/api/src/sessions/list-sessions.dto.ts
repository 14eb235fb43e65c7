import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { LIMITS, TRACKED_SESSION_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';

export class ListSessionsDto {
  @ApiPropertyOptional({ enum: TRACKED_SESSION_STATUSES, description: 'only sessions with this status' })
  @IsOptional()
  @IsIn(TRACKED_SESSION_STATUSES)
  status?: TrackedSessionStatus;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: LIMITS.listMaxLimit, default: LIMITS.listDefaultLimit })
  @IsOptional()
  @Type(() => Number)
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
