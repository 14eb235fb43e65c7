import { Injectable } from '@nestjs/common';
import type { OperatorKey as OperatorKeyRow } from '../database/generated/prisma/client';
import { PrismaService } from '../database/prisma.service';
import type { OperatorScope } from '@mosaic/orchestrator-contract';

/** An operator key as the API keeps it: never the key, only its hash. */
export interface OperatorKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly OperatorScope[];
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

@Injectable()
export class OperatorKeyRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(key: { name: string; scopes: readonly OperatorScope[]; keyHash: string }): Promise<OperatorKeyRecord> {
    return toRecord(await this.prisma.operatorKey.create({ data: { name: key.name, scopes: [...key.scopes], keyHash: key.keyHash } }));
  }

  /** Every key, revoked ones included, newest first. */
  async list(): Promise<OperatorKeyRecord[]> {
    const rows = await this.prisma.operatorKey.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    return rows.map(toRecord);
  }

  /** Revokes the key, keeping the time of the first revoke; undefined when there is no such key. */
  async revoke(id: string, at: Date): Promise<OperatorKeyRecord | undefined> {
    await this.prisma.operatorKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
    const row = await this.prisma.operatorKey.findUnique({ where: { id } });
    return row ? toRecord(row) : undefined;
  }

  /**
   * The key with this hash, if it is not revoked. Read on every request, with
   * no cache, so that a revoke takes effect on the key's very next request.
   */
  async findActiveByHash(keyHash: string): Promise<OperatorKeyRecord | undefined> {
    const row = await this.prisma.operatorKey.findFirst({ where: { keyHash, revokedAt: null } });
    return row ? toRecord(row) : undefined;
  }
}

function toRecord(row: OperatorKeyRow): OperatorKeyRecord {
  return { id: row.id, name: row.name, scopes: row.scopes, createdAt: row.createdAt, revokedAt: row.revokedAt };
}
