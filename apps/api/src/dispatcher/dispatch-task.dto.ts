import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

/** Optional body of `POST /tasks/:id/dispatch`. */
export class DispatchTaskDto {
  /** Who asked for the dispatch, recorded on the session and handed to the agent. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  requested_by?: string;
}
