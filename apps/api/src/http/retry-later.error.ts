import type { ErrorCode } from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';

/** A refusal that tells the caller when to try again: answered with `Retry-After`, whatever its status. */
export class RetryLaterError extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    /** Whole seconds, for `Retry-After`. */
    readonly retryAfterSeconds: number,
  ) {
    super(code, message);
  }
}
