import type { ErrorCode } from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';

/**
 * How a call to the orchestrator failed. Down, slow, open breaker and "said no"
 * are different failures for the caller: the dispatcher retries some, operators
 * see each as its own HTTP status (mapped once, in `http/error.filter.ts`).
 */
export type OrchestratorFailure = 'unreachable' | 'timeout' | 'circuit_open' | 'rejected' | 'not_found' | 'queue_full';

const FAILURE_CODES: Record<OrchestratorFailure, ErrorCode> = {
  unreachable: 'orchestrator_unreachable',
  timeout: 'orchestrator_timeout',
  circuit_open: 'orchestrator_circuit_open',
  rejected: 'orchestrator_rejected',
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
    super(FAILURE_CODES[failure], message, answer === undefined ? {} : { orchestrator: answer });
    this.name = 'OrchestratorError';
  }
}
