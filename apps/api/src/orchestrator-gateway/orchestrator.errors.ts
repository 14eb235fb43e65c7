import type { ErrorCode } from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';

/**
 * How a call to the orchestrator failed. Down, slow, open breaker and "said no"
 * are different failures for the caller: the dispatcher retries some, operators
 * see each as its own HTTP status (mapped once, in `http/error.filter.ts`).
 */
export type OrchestratorFailure = 'unreachable' | 'timeout' | 'circuit_open' | 'rejected' | 'refused' | 'not_found' | 'queue_full';

/** The codes of an orchestrator's 400 a caller gets as they are (contract 7.1): the request, not the service, is at fault. */
const PASSED_ON_CODES = new Set<ErrorCode>(['bad_request', 'agent_unavailable']);

const FAILURE_CODES: Record<OrchestratorFailure, ErrorCode> = {
  unreachable: 'orchestrator_unreachable',
  timeout: 'orchestrator_timeout',
  circuit_open: 'orchestrator_circuit_open',
  rejected: 'orchestrator_rejected',
  refused: 'bad_request',
  not_found: 'not_found',
  queue_full: 'queue_full',
};

export class OrchestratorError extends AppError {
  constructor(
    readonly failure: OrchestratorFailure,
    message: string,
    /** For `rejected` and `not_found`: what the orchestrator answered, shown to the caller under `orchestrator`. */
    readonly answer?: { readonly status: number; readonly code: string; readonly message: string },
    /** For `queue_full`: how long the orchestrator asked callers to wait, passed on to the operator as `Retry-After`. */
    readonly retryAfterMs?: number,
  ) {
    super(codeOf(failure, answer), message, answer === undefined ? {} : { orchestrator: answer });
    this.name = 'OrchestratorError';
  }
}

function codeOf(failure: OrchestratorFailure, answer: { readonly code: string } | undefined): ErrorCode {
  if (failure === 'refused' && answer !== undefined && PASSED_ON_CODES.has(answer.code as ErrorCode)) return answer.code as ErrorCode;
  return FAILURE_CODES[failure];
}
