import type { ErrorCode } from '@mosaic/orchestrator-contract';

/** Error codes the API's own rules raise; each maps to one HTTP status in `error.filter.ts`. */
export type AppErrorCode = Extract<
  ErrorCode,
  'bad_request' | 'unauthorized' | 'not_found' | 'conflict' | 'payload_too_large' | 'task_context_too_large'
>;

/** A rule of the API was broken by the request; the message is safe to show the caller. */
export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}
