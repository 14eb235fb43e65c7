import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { createHash } from 'node:crypto';
import { ApiConfig } from '../config/api-config';
import { PrismaClient } from './generated/prisma/client';

/** How long an interactive transaction waits for a pooled connection under load before failing. */
const TRANSACTION_MAX_WAIT_MS = 30_000;

/** The API's database client: Prisma on the `pg` driver adapter, so no engine binary is needed. */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  constructor(config: ApiConfig) {
    if (config.databaseUrl === undefined) {
      throw new Error('PrismaService needs a database URL; main.ts resolves the embedded one before start-up');
    }
    super({
      adapter: new PrismaPg({ connectionString: config.databaseUrl, max: 10 }, { statementNameGenerator: statementName }),
      // Plain queries wait for a pooled connection as long as it takes; an interactive transaction gave up after
      // Prisma's default 2 s and answered 500, which a burst of concurrent dispatches reaches (test/system, scenario 7).
      transactionOptions: { maxWait: TRANSACTION_MAX_WAIT_MS },
    });
  }

  async onModuleInit(): Promise<void> {
    // Fails start-up loudly when the database is unreachable, instead of on the first request.
    await this.$connect();
    await this.$queryRaw`SELECT 1`;
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}

/**
 * Names each statement after its text, so that pg prepares it once per
 * connection and PostgreSQL stops planning it on every execution: planning the
 * callback statement costs more than running it (docs/performance.md). The API
 * issues a fixed set of statement texts, so the prepared statements stay few.
 */
function statementName(query: { sql: string }): string {
  return `mosaic_${createHash('sha1').update(query.sql).digest('hex')}`;
}
