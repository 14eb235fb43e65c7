import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { HealthIndicatorService } from '@nestjs/terminus';
import { PrismaService } from '../database/prisma.service';
import { DATABASE_HEALTH_TIMEOUT_MS, DatabaseHealthIndicator } from './database.health';

describe('DatabaseHealthIndicator', () => {
  let queryRaw: jest.Mock;
  let indicator: DatabaseHealthIndicator;

  beforeEach(async () => {
    queryRaw = jest.fn();
    const moduleRef = await Test.createTestingModule({
      providers: [DatabaseHealthIndicator, HealthIndicatorService, { provide: PrismaService, useValue: { $queryRaw: queryRaw } }],
    }).compile();
    indicator = moduleRef.get(DatabaseHealthIndicator);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('is up when SELECT 1 answers, and runs nothing else', async () => {
    queryRaw.mockResolvedValue([{ '?column?': 1 }]);

    await expect(indicator.isHealthy()).resolves.toEqual({ database: { status: 'up' } });
    expect(queryRaw).toHaveBeenCalledTimes(1);
    expect((queryRaw.mock.calls[0] as [TemplateStringsArray])[0].join('?')).toBe('SELECT 1');
  });

  it('is down without revealing the cause when the query fails', async () => {
    queryRaw.mockRejectedValue(new Error('connect ECONNREFUSED db.internal:5432'));

    const result = await indicator.isHealthy();

    expect(result).toEqual({ database: { status: 'down', reason: 'unreachable', message: 'the database query failed' } });
  });

  it('is down with reason timeout when the query hangs', async () => {
    jest.useFakeTimers();
    queryRaw.mockReturnValue(new Promise(() => undefined));

    const result = indicator.isHealthy();
    await jest.advanceTimersByTimeAsync(DATABASE_HEALTH_TIMEOUT_MS);

    await expect(result).resolves.toEqual({
      database: { status: 'down', reason: 'timeout', message: `the database did not answer within ${DATABASE_HEALTH_TIMEOUT_MS} ms` },
    });
  });
});
