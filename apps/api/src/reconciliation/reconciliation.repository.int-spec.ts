import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, dropTestDatabase } from '../../../../test/support/database';
import { ApiConfig } from '../config/api-config';
import { PrismaService } from '../database/prisma.service';
import { ReconciliationRepository } from './reconciliation.repository';

describe('ReconciliationRepository (integration)', () => {
  let url: string;
  let prisma: PrismaService;
  let repository: ReconciliationRepository;

  beforeAll(async () => {
    url = await createTestDatabase('reconcile-lock', { migrate: true });
    prisma = new PrismaService(ApiConfig.fromEnvironment({ DATABASE_URL: url }));
    await prisma.onModuleInit();
    repository = new ReconciliationRepository(prisma);
  });

  afterAll(async () => {
    await prisma?.onModuleDestroy();
    if (url) await dropTestDatabase(url);
  });

  it('survives the server ending the lock connection while a run is away (a database restart), and the lock can be taken again', async () => {
    // Ends every other connection holding an advisory lock in this database, as a restart would: PostgreSQL sends
    // the held connection an error while nothing is querying on it.
    const outcome = repository.whileHoldingRunLock(
      async () => {
        await prisma.$queryRaw`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
                                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
        await sleep(300);
        return 'ran';
      },
      { maxHoldMs: 10_000 },
    );
    // The lock went with the connection, so the run cannot say it released it.
    await expect(outcome).rejects.toThrow();
    await expect(repository.whileHoldingRunLock(async () => 'again', { maxHoldMs: 10_000 })).resolves.toBe('again');
  });
});
