import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { type ErrorCode, errorBody, wireSchemaRef } from '@mosaic/orchestrator-contract';

/** One documented error answer: when it happens, and the `error.code` it carries. */
export interface ErrorAnswer {
  readonly when: string;
  readonly code: ErrorCode;
}

/**
 * Documents error answers in the contract's error shape, each with an example
 * body. Statuses are keys, so one status is documented once per operation.
 */
export function ApiErrorResponses(answers: Readonly<Record<number, ErrorAnswer>>): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...Object.entries(answers).map(([status, { when, code }]) =>
      ApiResponse({
        status: Number(status),
        description: when,
        content: { 'application/json': { schema: wireSchemaRef('ErrorBody'), example: errorBody(code, when) } },
      }),
    ),
  );
}

/** The orchestrator failures of `error.filter.ts`, for operations that call the orchestrator while the caller waits. */
export const ORCHESTRATOR_FAILURES: Readonly<Record<number, ErrorAnswer>> = {
  502: { when: 'the orchestrator refused the call or answered outside the contract (its answer is under `error.orchestrator`)', code: 'orchestrator_rejected' },
  503: { when: 'the orchestrator is unreachable or its circuit breaker is open (with `Retry-After`)', code: 'orchestrator_unreachable' },
  504: { when: 'the orchestrator did not answer in time', code: 'orchestrator_timeout' },
};
