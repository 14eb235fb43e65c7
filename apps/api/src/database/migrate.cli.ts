// `pnpm db:migrate`: applies prisma/migrations to DATABASE_URL or, when it is
// unset, to the embedded PostgreSQL the API starts by default: the same data
// directory and port (EMBEDDED_DATABASE_DIR, EMBEDDED_DATABASE_PORT), so the API
// finds it migrated. It reads those settings only: a production deploy runs it
// before the service's secrets need to be there (docs/contract.md §5).
import { EmbeddedPostgresError, startEmbeddedPostgres } from '@mosaic/embedded-postgres';
import { ConfigurationError } from '@mosaic/http-kit';
import { ApiConfig } from '../config/api-config';
import { embeddedDataDir } from './default-database';
import { MigrationError, applyMigrations } from './migrator';

const log = (line: string): void => console.log(line);

async function main(): Promise<void> {
  const config = ApiConfig.databaseFromEnvironment(process.env);
  if (config.databaseUrl !== undefined) {
    await migrate(config.databaseUrl);
    return;
  }
  const dataDir = embeddedDataDir(config);
  const { port } = config.embeddedDatabase;
  log(`DATABASE_URL is not set: migrating the embedded PostgreSQL in ${dataDir} on port ${port}`);
  const embedded = await startEmbeddedPostgres({ dataDir, port });
  try {
    await migrate(embedded.url);
  } finally {
    await embedded.stop();
  }
}

async function migrate(url: string): Promise<void> {
  const { applied, alreadyApplied } = await applyMigrations(url, { log });
  if (applied.length === 0) {
    log(`No pending migrations (${alreadyApplied.length} already applied).`);
  } else {
    log(`Applied ${applied.length} migration(s): ${applied.join(', ')}.`);
  }
}

// Errors the operator can act on from the message alone: ours, and PostgreSQL's
// or the network's (they carry a string `code` such as ECONNREFUSED or 28P01).
function isExpected(error: unknown): error is Error {
  return (
    error instanceof ConfigurationError ||
    error instanceof MigrationError ||
    error instanceof EmbeddedPostgresError ||
    (error instanceof Error && typeof (error as { code?: unknown }).code === 'string')
  );
}

// Exits explicitly: the embedded-postgres package hooks `beforeExit` and would
// turn a natural exit into exit code 0.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`db:migrate failed: ${isExpected(error) ? error.message : error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
