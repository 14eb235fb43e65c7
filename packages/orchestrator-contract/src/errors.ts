import { z } from 'zod';

/** Every error body on the wire, in both services (contract, preamble). */
export const errorBodySchema = z.object({
  error: z.looseObject({
    code: z.string().min(1),
    message: z.string(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Machine codes used in error bodies. Extra codes are allowed by the contract; these are ours. */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'insufficient_scope'
  | 'not_found'
  | 'conflict'
  | 'idempotency_key_reused'
  | 'payload_too_large'
  | 'at_capacity'
  | 'queue_full'
  | 'queue_unavailable'
  | 'node_unreachable'
  | 'shutting_down'
  | 'orchestrator_unreachable'
  | 'orchestrator_timeout'
  | 'orchestrator_circuit_open'
  | 'orchestrator_rejected'
  | 'task_context_too_large'
  | 'daily_budget_exhausted'
  | 'agent_unavailable'
  | 'too_many_streams'
  | 'database_unavailable'
  | 'internal_error';

export function errorBody(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): ErrorBody {
  return { error: { code, message, ...extra } };
}
