import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { createHash } from 'node:crypto';
import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import { ApiConfig } from '../config/api-config';
import { databaseUnavailable, isDatabaseUnavailable } from './database-errors';
import { PrismaClient } from './generated/prisma/client';

/** How long a query or an interactive transaction waits for a pooled connection under load before failing. */
const CONNECTION_MAX_WAIT_MS = 30_000;

/** A statement text and the name it is prepared under, computed once per text. */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

export function prepared(text: string): PreparedStatement {
  return { name: statementName({ sql: text }), text };
}

/**
 * The API's database client: Prisma on the `pg` driver adapter, so no engine
 * binary is needed. The adapter runs on a pool this service owns, so that the
 * hottest statements (a callback, the two writes of a dispatch) go to `pg`
 * directly through `queryPg`: Prisma's raw-query path (building the query, its
 * query compiler, mapping the rows back) cost more CPU per callback than the
 * rest of the request (docs/performance.md). One pool keeps one limit on the
 * connections, and Prisma ends it on disconnect.
 */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  private readonly pool: Pool;

  constructor(config: ApiConfig) {
    if (config.databaseUrl === undefined) {
      throw new Error('PrismaService needs a database URL; main.ts resolves the embedded one before start-up');
    }
    const pool = new Pool({
      connectionString: config.databaseUrl,
      max: 10,
      connectionTimeoutMillis: CONNECTION_MAX_WAIT_MS,
      statement_timeout: config.databaseStatementTimeoutMs,
      // Every statement is prepared under a name (below), to be planned once per connection. Left to choose,
      // PostgreSQL plans a statement that takes arrays (a batch of callbacks) anew on every run, because the
      // arrays' sizes make each custom plan look cheaper than the generic one: a planning cost per callback.
      options: '-c plan_cache_mode=force_generic_plan',
    });
    super({
      adapter: new PrismaPg(pool, { statementNameGenerator: statementName, disposeExternalPool: true }),
      // Plain queries wait for a pooled connection as long as it takes; an interactive transaction gave up after
      // Prisma's default 2 s and answered 500, which a burst of concurrent dispatches reaches (test/system, scenario 7).
      transactionOptions: { maxWait: CONNECTION_MAX_WAIT_MS },
    });
    this.pool = pool;
  }

  /** Runs one prepared statement on the shared pool through `pg`, not Prisma, and returns its rows as `pg` parses them. */
  async queryPg<Row>(statement: PreparedStatement, values: readonly unknown[]): Promise<Row[]> {
    try {
      const result = await this.pool.query<Row & QueryResultRow>({ name: statement.name, text: statement.text, values: [...values] });
      return result.rows;
    } catch (error) {
      throw isDatabaseUnavailable(error) ? databaseUnavailable() : error;
    }
  }

  /** A pooled connection for the caller alone, outside any transaction (for session-level locks); the caller releases it. */
  connect(): Promise<PoolClient> {
    return this.pool.connect();
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
