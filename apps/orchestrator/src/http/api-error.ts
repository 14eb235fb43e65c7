import { HttpException } from '@nestjs/common';
import type { ErrorCode } from '@mosaic/orchestrator-contract';

/** An error that already knows its wire form: status, contract error code and any headers (e.g. `Retry-After`). */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message, status);
  }
}
