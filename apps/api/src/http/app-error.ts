import type { ErrorCode } from '@mosaic/orchestrator-contract';

/**
 * An error the API expects and answers itself: a broken rule of the request,
 * or a boundary reporting how it failed (the orchestrator's errors extend it).
 * The message is safe to show the caller; `details` go into the error body
 * beside `code` and `message`. Its HTTP status follows from `code`, in
 * `error.filter.ts` alone.
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
