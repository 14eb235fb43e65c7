import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import {
  EVENT_PAGE_LIMITS,
  LIMITS,
  MAX_SEQUENCE,
  TRACKED_SESSION_STATUSES,
  type TrackedSessionStatus,
} from '@mosaic/orchestrator-contract';
import { QueryInteger } from '../http/query-integer';

/*
 * The queries of the session endpoints as Nest validates them; the
 * contract's query schemas document them, and agree (see the spec).
 */

/** `GET /orchestrator/sessions` (`listSessionsQuerySchema`). */
export class ListSessionsDto {
  @IsOptional()
  @IsIn(TRACKED_SESSION_STATUSES)
  status?: TrackedSessionStatus;

  @IsOptional()
  @QueryInteger()
  @IsInt()
  @Min(1)
  @Max(LIMITS.listMaxLimit)
  limit: number = LIMITS.listDefaultLimit;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

/** `GET /orchestrator/sessions/:id` (`getSessionQuerySchema`). */
export class GetSessionDto {
  @IsOptional()
  @IsIn(['true', 'false'])
  refresh?: 'true' | 'false';
}

/** `GET /orchestrator/sessions/:id/events` (`eventPageQuerySchema`). */
export class EventPageDto {
  @IsOptional()
  @QueryInteger()
  @IsInt()
  @Min(0)
  @Max(MAX_SEQUENCE)
  after_sequence: number = 0;

  @IsOptional()
  @QueryInteger()
  @IsInt()
  @Min(1)
  @Max(EVENT_PAGE_LIMITS.max)
  limit: number = EVENT_PAGE_LIMITS.default;
}
