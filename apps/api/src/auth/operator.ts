import type { IncomingMessage } from 'node:http';

/** Who sent an operator request, as its authentication established. */
export interface Operator {
  /** `admin` for the administrator's token (MOSAIC_API_TOKEN). */
  readonly name: string;
}

const operators = new WeakMap<IncomingMessage, Operator>();

/** Records who sent `request`; only the authentication middleware calls it. */
export function authenticatedAs(request: IncomingMessage, operator: Operator): void {
  operators.set(request, operator);
}

/** Who sent `request`, if its authentication ran and succeeded. */
export function operatorOf(request: IncomingMessage): Operator | undefined {
  return operators.get(request);
}
