import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppError, hashSecret } from '@mosaic/http-kit';
import type { OperatorScope } from '@mosaic/orchestrator-contract';
import { type OperatorKeyRecord, OperatorKeyRepository } from './operator-key.repository';

export const OPERATOR_KEY_PREFIX = 'mk_';

/** A key just created: the only moment its secret exists outside its holder. */
export interface CreatedOperatorKey extends OperatorKeyRecord {
  readonly key: string;
}

/** Operator keys (docs/contract.md §4): 256 random bits, stored as a hash, shown once, revoked at once. */
@Injectable()
export class OperatorKeysService {
  constructor(private readonly keys: OperatorKeyRepository) {}

  async create(name: string, scopes: readonly OperatorScope[]): Promise<CreatedOperatorKey> {
    const key = `${OPERATOR_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record = await this.keys.create({ name, scopes: [...new Set(scopes)], keyHash: hashSecret(key) });
    return { ...record, key };
  }

  list(): Promise<OperatorKeyRecord[]> {
    return this.keys.list();
  }

  /** Idempotent: revoking a revoked key changes nothing. */
  async revoke(id: string): Promise<OperatorKeyRecord> {
    const revoked = await this.keys.revoke(id, new Date());
    if (revoked === undefined) throw new AppError('not_found', `operator key ${id} not found`);
    return revoked;
  }
}
