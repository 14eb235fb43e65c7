/**
 * How a call to the orchestrator failed. Down, slow, open breaker and "said no"
 * are different failures for the caller: the dispatcher retries some, operators
 * see each as its own HTTP status (mapped once, in `http/error.filter.ts`).
 */
export type OrchestratorFailure = 'unreachable' | 'timeout' | 'circuit_open' | 'rejected' | 'not_found';

export class OrchestratorError extends Error {
  constructor(
    readonly failure: OrchestratorFailure,
    message: string,
    /** For `rejected` and `not_found`: what the orchestrator answered. */
    readonly answer?: { readonly status: number; readonly code: string; readonly message: string },
  ) {
    super(message);
    this.name = 'OrchestratorError';
  }
}
