import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { type ErrorAnswer, errorAnswerResponses } from '@mosaic/orchestrator-contract';

/** Documents error answers in the contract's error shape; one status is documented once per operation. */
export function ApiErrorResponses(answers: Readonly<Record<number, ErrorAnswer>>): MethodDecorator & ClassDecorator {
  return applyDecorators(...errorAnswerResponses(answers).map((response) => ApiResponse(response)));
}

export const ORCHESTRATOR_FAILURES: Readonly<Record<number, ErrorAnswer>> = {
  502: {
    when: 'the orchestrator refused the call or answered outside the contract (its answer is under `error.orchestrator`)',
    code: 'orchestrator_rejected',
  },
  503: { when: 'the orchestrator is unreachable or its circuit breaker is open (with `Retry-After`)', code: 'orchestrator_unreachable' },
  504: { when: 'the orchestrator did not answer in time', code: 'orchestrator_timeout' },
};
