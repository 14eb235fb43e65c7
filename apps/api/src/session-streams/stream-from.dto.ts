import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { MAX_SEQUENCE } from '@mosaic/orchestrator-contract';
import { QueryInteger } from '../http/query-integer';

/** The query of `GET /orchestrator/sessions/:id/events/stream`; the contract's `streamFromQuerySchema` documents it, and agrees (see the spec). */
export class StreamFromDto {
  @IsOptional()
  @QueryInteger()
  @IsInt()
  @Min(0)
  @Max(MAX_SEQUENCE)
  after_sequence?: number;
}
