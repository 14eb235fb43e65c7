import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

// Prisma's schema engine serialises `migrate deploy` with this advisory lock key;
// taking the same one keeps this migrator and a real `prisma migrate deploy` from
// applying migrations at the same time.
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

// Byte for byte the table Prisma's schema engine creates for PostgreSQL, so that
// `prisma migrate status` and `deploy` read the history written here unchanged.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface ApplyMigrationsOptions {
  migrationsDir?: string;
  log?: (line: string) => void;
}

export interface ApplyMigrationsResult {
  applied: string[];
  alreadyApplied: string[];
}

/** An expected failure whose message is meant for the operator; no stack trace needed. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Finds `prisma/migrations` above `from`, so the same code works from `src`
 * (ts-jest) and from the compiled `dist` tree.
 */
export function findMigrationsDir(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    const candidate = path.join(dir, 'prisma', 'migrations');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new MigrationError(`No prisma/migrations directory found above ${from}`);
    dir = parent;
  }
}

function migrationChecksum(contents: Buffer): string {
  return createHash('sha256').update(contents).digest('hex');
}

function readMigrations(migrationsDir: string): MigrationFile[] {
  if (!existsSync(migrationsDir)) throw new MigrationError(`Migrations directory ${migrationsDir} does not exist`);
  // Prisma treats every sub-directory as a migration and orders them by name,
  // which the timestamp prefix makes chronological.
  const names = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return names.map((name) => {
    const file = path.join(migrationsDir, name, 'migration.sql');
    if (!existsSync(file)) throw new MigrationError(`Migration \`${name}\` has no migration.sql (${file})`);
    const bytes = readFileSync(file);
    return { name, sql: bytes.toString('utf8'), checksum: migrationChecksum(bytes) };
  });
}

/**
 * Applies the pending migrations of `prisma/migrations` and records them in
 * `_prisma_migrations` as Prisma's `migrate deploy` would. Unlike Prisma, each
 * migration runs in one transaction together with its history row: a failing
 * migration leaves neither partial schema changes nor a failed row behind, so
 * there is nothing to `migrate resolve` afterwards.
 */
export async function applyMigrations(databaseUrl: string, options: ApplyMigrationsOptions = {}): Promise<ApplyMigrationsResult> {
  const log = options.log ?? (() => undefined);
  const migrations = readMigrations(options.migrationsDir ?? findMigrationsDir());

  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    try {
      return await applyLocked(client, migrations, log);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

async function applyLocked(client: Client, migrations: MigrationFile[], log: (line: string) => void): Promise<ApplyMigrationsResult> {
  await client.query(CREATE_MIGRATIONS_TABLE);
  const { rows } = await client.query<MigrationRow>(
    `SELECT migration_name, checksum, started_at, finished_at, rolled_back_at
       FROM "_prisma_migrations" ORDER BY started_at ASC`,
  );

  // Same rule as Prisma (P3009): a migration that started and neither finished
  // nor was marked rolled back may have left the schema half-changed.
  const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed) {
    throw new MigrationError(
      `Migration \`${failed.migration_name}\` started at ${failed.started_at.toISOString()} failed and was not ` +
        'rolled back; no new migrations will be applied. Fix the database by hand, then mark it with ' +
        `\`prisma migrate resolve --applied|--rolled-back ${failed.migration_name}\`.`,
    );
  }

  const appliedRows = new Map<string, MigrationRow>();
  for (const row of rows) {
    if (row.finished_at !== null && row.rolled_back_at === null) appliedRows.set(row.migration_name, row);
  }

  const onDisk = new Set(migrations.map((migration) => migration.name));
  for (const name of appliedRows.keys()) {
    if (!onDisk.has(name)) log(`Warning: migration \`${name}\` is recorded in the database but missing from disk`);
  }

  const alreadyApplied: string[] = [];
  const pending: MigrationFile[] = [];
  for (const migration of migrations) {
    const row = appliedRows.get(migration.name);
    if (!row) {
      pending.push(migration);
      continue;
    }
    if (row.checksum !== migration.checksum) {
      throw new MigrationError(
        `Migration \`${migration.name}\` was modified after it was applied (recorded checksum ${row.checksum}, ` +
          `file checksum ${migration.checksum}). Restore the original migration.sql and put the change in a new migration.`,
      );
    }
    alreadyApplied.push(migration.name);
  }

  const applied: string[] = [];
  for (const migration of pending) {
    log(`Applying migration \`${migration.name}\``);
    await applyOne(client, migration);
    applied.push(migration.name);
  }
  return { applied, alreadyApplied };
}

async function applyOne(client: Client, migration: MigrationFile): Promise<void> {
  const id = randomUUID();
  await client.query('BEGIN');
  try {
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, clock_timestamp(), 0)`,
      [id, migration.checksum, migration.name],
    );
    // No parameters: pg then uses the simple query protocol, which runs a
    // multi-statement script as Prisma does.
    await client.query(migration.sql);
    await client.query(`UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`, [id]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(`Migration \`${migration.name}\` failed and was rolled back: ${reason}`, { cause: error });
  }
}
