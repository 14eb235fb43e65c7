import type { IncomingMessage } from 'node:http';
import { OPERATOR_SCOPES, type OperatorScope } from '@mosaic/orchestrator-contract';

/** Who sent an operator request, as its authentication established. */
export interface Operator {
  /** The key's name, or `admin` for the administrator's token (MOSAIC_API_TOKEN); recorded as the actor of what it does. */
  readonly name: string;
  /** The key's id, recorded beside its name; null for the administrator's token. */
  readonly keyId: string | null;
  readonly scopes: readonly OperatorScope[];
  /** Only the administrator manages operator keys. */
  readonly admin: boolean;
}

export const ADMIN: Operator = { name: 'admin', keyId: null, scopes: OPERATOR_SCOPES, admin: true };

const operators = new WeakMap<IncomingMessage, Operator>();

/** Records who sent `request`; only the authentication middleware calls it. */
export function authenticatedAs(request: IncomingMessage, operator: Operator): void {
  operators.set(request, operator);
}

/** Who sent `request`, if its authentication ran and succeeded. */
export function operatorOf(request: IncomingMessage): Operator | undefined {
  return operators.get(request);
}
