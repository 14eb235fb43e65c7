import { AppError } from '@mosaic/http-kit';

/** What a refused client is told to wait (`Retry-After`): streams free up as their clients go, or at their maximum life. */
export const STREAM_RETRY_AFTER_SECONDS = 5;

/** A stream refused at a cap: `429 too_many_streams` for a key's or an address's, `503 at_capacity` for the process's. */
export class StreamRefused extends AppError {
  readonly retryAfterSeconds = STREAM_RETRY_AFTER_SECONDS;
}
