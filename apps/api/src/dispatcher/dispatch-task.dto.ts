import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { IsStorableText } from '../http/storable.validators';

/** Optional body of `POST /tasks/:id/dispatch`; the contract's `dispatchTaskSchema` documents it, and agrees (see the spec). */
export class DispatchTaskDto {
  /** Who asked for the dispatch, recorded on the session and handed to the agent. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsStorableText()
  requested_by?: string;
}
