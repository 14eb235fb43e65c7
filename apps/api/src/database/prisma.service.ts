import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { ApiConfig } from '../config/api-config';
import { PrismaClient } from './generated/prisma/client';

/** The API's database client: Prisma on the `pg` driver adapter, so no engine binary is needed. */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  constructor(config: ApiConfig) {
    if (config.databaseUrl === undefined) {
      throw new Error('PrismaService needs a database URL; main.ts resolves the embedded one before start-up');
    }
    super({ adapter: new PrismaPg({ connectionString: config.databaseUrl, max: 10 }) });
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
