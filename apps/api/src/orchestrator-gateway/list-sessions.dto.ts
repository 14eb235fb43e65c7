import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { LIMITS, TRACKED_SESSION_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';

export class ListSessionsDto {
  @IsOptional()
  @IsIn(TRACKED_SESSION_STATUSES)
  status?: TrackedSessionStatus;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(LIMITS.listMaxLimit)
  limit: number = LIMITS.listDefaultLimit;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export class GetSessionDto {
  @IsOptional()
  @IsIn(['true', 'false'])
  refresh?: 'true' | 'false';
}
