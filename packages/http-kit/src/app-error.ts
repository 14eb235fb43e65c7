import type { ErrorCode } from '@mosaic/orchestrator-contract';

/**
 * A request broke one of the service's rules. The code is the contract's
 * machine code and the message is safe to show the caller; each service's
 * error filter is the one place that maps the code to an HTTP status.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}
