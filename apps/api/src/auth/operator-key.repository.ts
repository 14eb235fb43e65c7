import { Injectable } from '@nestjs/common';
import { AppError } from '@mosaic/http-kit';
import { type OperatorKey as OperatorKeyRow, Prisma } from '../database/generated/prisma/client';
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

  /** The database's unique index, not a read before the insert, refuses a name in use, across API instances too. */
  async create(key: { name: string; scopes: readonly OperatorScope[]; keyHash: string }): Promise<OperatorKeyRecord> {
    try {
      return toRecord(await this.prisma.operatorKey.create({ data: { name: key.name, scopes: [...key.scopes], keyHash: key.keyHash } }));
    } catch (error) {
      // The key's hash is 256 random bits: only its name can be in use already.
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new AppError('conflict', `name: an operator key named ${JSON.stringify(key.name)} exists already (revoked keys keep theirs)`);
      }
      throw error;
    }
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

  /** Those of `ids` that are revoked. */
  async revokedAmong(ids: readonly string[]): Promise<string[]> {
    const rows = await this.prisma.operatorKey.findMany({
      where: { id: { in: [...ids] }, revokedAt: { not: null } },
      select: { id: true },
    });
    return rows.map((row) => row.id);
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
