import { Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { DatabaseCheck } from '@mosaic/orchestrator-contract';
import { PrismaService } from '../database/prisma.service';
import { DeadlineExceeded, withDeadline } from './deadline';

/** What a failed check reports beside its status (contract: `databaseCheckSchema`). */
type Down = Omit<Extract<DatabaseCheck, { status: 'down' }>, 'status'>;

/** A `SELECT 1` that takes longer than this means the database cannot serve requests either. */
export const DATABASE_HEALTH_TIMEOUT_MS = 2_000;

/** Database reachability for `/health`: one `SELECT 1`, bounded in time. */
@Injectable()
export class DatabaseHealthIndicator {
  private readonly logger = new Logger(DatabaseHealthIndicator.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'database'): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    try {
      await withDeadline(this.prisma.$queryRaw`SELECT 1`, DATABASE_HEALTH_TIMEOUT_MS);
      return indicator.up();
    } catch (error) {
      if (error instanceof DeadlineExceeded) {
        return indicator.down({
          reason: 'timeout',
          message: `the database did not answer within ${DATABASE_HEALTH_TIMEOUT_MS} ms`,
        } satisfies Down);
      }
      // The open endpoint gets a fixed text; the cause (which may name hosts) goes only to the log.
      this.logger.warn(`database health check failed: ${error instanceof Error ? error.message : String(error)}`);
      return indicator.down({ reason: 'unreachable', message: 'the database query failed' } satisfies Down);
    }
  }
}
