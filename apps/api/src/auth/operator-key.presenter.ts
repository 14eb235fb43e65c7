import type { CreatedOperatorKey as CreatedOperatorKeyAnswer, OperatorKey } from '@mosaic/orchestrator-contract';
import type { OperatorKeyRecord } from './operator-key.repository';
import type { CreatedOperatorKey } from './operator-keys.service';

/** An operator key on the wire, without its secret. */
export function presentOperatorKey(key: OperatorKeyRecord): OperatorKey {
  return {
    id: key.id,
    name: key.name,
    scopes: [...key.scopes],
    created_at: key.createdAt.toISOString(),
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}

/** The answer to its creation: the only one that carries the key. */
export function presentCreatedOperatorKey(key: CreatedOperatorKey): CreatedOperatorKeyAnswer {
  return { ...presentOperatorKey(key), key: key.key };
}
