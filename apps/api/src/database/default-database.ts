import type { Logger } from '@nestjs/common';
import { defaultEmbeddedDataDir, startEmbeddedPostgres } from '@mosaic/embedded-postgres';
import type { ApiConfig, DatabaseSettings } from '../config/api-config';
import { applyMigrations } from './migrator';

export interface ResolvedDatabase {
  readonly config: ApiConfig;
  /** Stops the embedded PostgreSQL, if one was started; a no-op for DATABASE_URL. */
  close(): Promise<void>;
}

/**
 * With DATABASE_URL set, the API uses it as it is (`pnpm db:migrate` migrates
 * it). Without, it starts the embedded PostgreSQL under `.data/`, migrates it
 * and uses it, so that a newcomer needs nothing installed.
 */
export async function resolveDatabase(config: ApiConfig, logger: Logger): Promise<ResolvedDatabase> {
  if (config.databaseUrl !== undefined) return { config, close: async () => undefined };
  const dataDir = embeddedDataDir(config);
  logger.log(`DATABASE_URL is not set: starting the embedded PostgreSQL in ${dataDir} on port ${config.embeddedDatabase.port}`);
  const embedded = await startEmbeddedPostgres({
    dataDir,
    port: config.embeddedDatabase.port,
    log: (line) => logger.log(line),
  });
  try {
    const { applied } = await applyMigrations(embedded.url, { log: (line) => logger.log(line) });
    if (applied.length > 0) logger.log(`applied ${applied.length} migration(s)`);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  return { config: config.withDatabaseUrl(embedded.url), close: () => embedded.stop() };
}

/** Where the API keeps its embedded PostgreSQL, so that `pnpm db:migrate` migrates the same one. */
export function embeddedDataDir(config: DatabaseSettings): string {
  return config.embeddedDatabase.dataDir ?? defaultEmbeddedDataDir('postgres');
}
