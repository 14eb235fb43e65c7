import type { ErrorCode } from '@mosaic/orchestrator-contract';

/**
 * An error the service expects and answers itself: a broken rule of the
 * request, or a boundary reporting how it failed. The code is the contract's
 * machine code and the message is safe to show the caller; `details` go into
 * the error body beside them. Each service's error filter is the one place
 * that maps the code to an HTTP status.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}
