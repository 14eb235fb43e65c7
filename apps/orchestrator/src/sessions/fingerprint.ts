import { createHash } from 'node:crypto';
import { canonicalJson } from '@mosaic/orchestrator-contract';

/** A stable hash of a JSON value: object keys are sorted, so key order does not change it. */
export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
