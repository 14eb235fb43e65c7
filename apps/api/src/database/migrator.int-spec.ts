import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, dropTestDatabase, withClient } from '../../../../test/support/database';
import { applyMigrations, findMigrationsDir } from './migrator';

const migrationsDir = findMigrationsDir();
const migrationNames = readdirSync(migrationsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const initName = '20261124000000_init';

interface HistoryRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

const history = (url: string): Promise<HistoryRow[]> =>
  withClient(url, async (client) => (await client.query<HistoryRow>('SELECT * FROM "_prisma_migrations" ORDER BY started_at')).rows);

const tables = (url: string): Promise<string[]> =>
  withClient(url, async (client) =>
    (
      await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      )
    ).rows.map((row) => row.table_name),
  );

describe('applyMigrations', () => {
  let url: string;
  let tempDir: string | undefined;

  beforeEach(async () => {
    url = await createTestDatabase('migrator');
  });

  afterEach(async () => {
    await dropTestDatabase(url);
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  });

  /** A copy of the real migrations the test may change. */
  function copyMigrations(): string {
    tempDir = mkdtempSync(path.join(tmpdir(), 'mosaic-migrations-'));
    cpSync(migrationsDir, tempDir, { recursive: true });
    return tempDir;
  }

  function addMigration(dir: string, name: string, sql: string): void {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'migration.sql'), sql);
  }

  it('applies every migration to a fresh database and records it as Prisma does', async () => {
    const result = await applyMigrations(url);

    expect(result).toEqual({ applied: migrationNames, alreadyApplied: [] });
    expect(migrationNames).toContain(initName);

    const columns = await withClient(url, async (client) => {
      const { rows } = await client.query(
        `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
           FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
      );
      return rows;
    });
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'character varying', character_maximum_length: 36, is_nullable: 'NO', column_default: null },
      { column_name: 'checksum', data_type: 'character varying', character_maximum_length: 64, is_nullable: 'NO', column_default: null },
      {
        column_name: 'finished_at',
        data_type: 'timestamp with time zone',
        character_maximum_length: null,
        is_nullable: 'YES',
        column_default: null,
      },
      {
        column_name: 'migration_name',
        data_type: 'character varying',
        character_maximum_length: 255,
        is_nullable: 'NO',
        column_default: null,
      },
      { column_name: 'logs', data_type: 'text', character_maximum_length: null, is_nullable: 'YES', column_default: null },
      {
        column_name: 'rolled_back_at',
        data_type: 'timestamp with time zone',
        character_maximum_length: null,
        is_nullable: 'YES',
        column_default: null,
      },
      {
        column_name: 'started_at',
        data_type: 'timestamp with time zone',
        character_maximum_length: null,
        is_nullable: 'NO',
        column_default: 'now()',
      },
      { column_name: 'applied_steps_count', data_type: 'integer', character_maximum_length: null, is_nullable: 'NO', column_default: '0' },
    ]);
    const primaryKey = await withClient(url, async (client) => {
      const { rows } = await client.query(
        `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
          WHERE i.indrelid = '"_prisma_migrations"'::regclass AND i.indisprimary`,
      );
      return rows.map((row: { attname: string }) => row.attname);
    });
    expect(primaryKey).toEqual(['id']);

    const rows = await history(url);
    expect(rows.map((row) => row.migration_name)).toEqual(migrationNames);
    const init = rows.find((row) => row.migration_name === initName);
    const initSql = readFileSync(path.join(migrationsDir, initName, 'migration.sql'));
    expect(init).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      checksum: createHash('sha256').update(initSql).digest('hex'),
      finished_at: expect.any(Date),
      migration_name: initName,
      logs: null,
      rolled_back_at: null,
      started_at: expect.any(Date),
      applied_steps_count: 1,
    });
    expect(init?.finished_at?.getTime()).toBeGreaterThanOrEqual(init?.started_at.getTime() ?? Infinity);
    expect(await tables(url)).toEqual(
      expect.arrayContaining(['_prisma_migrations', 'tasks', 'orchestrator_sessions', 'orchestrator_session_events']),
    );
  });

  it('applies nothing when run a second time', async () => {
    await applyMigrations(url);
    const before = await history(url);

    const second = await applyMigrations(url);

    expect(second).toEqual({ applied: [], alreadyApplied: migrationNames });
    expect(await history(url)).toEqual(before);
  });

  it('applies each migration exactly once when two processes migrate at the same time', async () => {
    const dir = copyMigrations();
    // A slow second migration widens the window in which an unlocked migrator
    // would apply it twice (and fail on the existing table).
    addMigration(dir, '20991231000000_slow', 'SELECT pg_sleep(0.5);\nCREATE TABLE "slow_probe" ("id" INTEGER NOT NULL);\n');

    const [first, second] = await Promise.all([applyMigrations(url, { migrationsDir: dir }), applyMigrations(url, { migrationsDir: dir })]);

    const all = [...migrationNames, '20991231000000_slow'];
    expect([...first.applied, ...second.applied].sort()).toEqual(all);
    expect([first.applied, second.applied]).toContainEqual([]);
    expect((await history(url)).map((row) => row.migration_name)).toEqual(all);
  });

  it('refuses to run when an applied migration was changed, naming it and changing nothing', async () => {
    const dir = copyMigrations();
    await applyMigrations(url, { migrationsDir: dir });
    const before = await history(url);
    appendFileSync(path.join(dir, initName, 'migration.sql'), '\nCREATE TABLE "sneaky" ("id" INTEGER);\n');
    addMigration(dir, '20991231000000_next', 'CREATE TABLE "next_table" ("id" INTEGER NOT NULL);\n');

    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      new RegExp(`Migration \`${initName}\` was modified after it was applied`),
    );

    expect(await history(url)).toEqual(before);
    expect(await tables(url)).not.toEqual(expect.arrayContaining(['next_table']));
    expect(await tables(url)).not.toEqual(expect.arrayContaining(['sneaky']));
  });

  it('refuses to run after a migration that failed and was not rolled back', async () => {
    const dir = copyMigrations();
    addMigration(dir, '20991231000000_next', 'CREATE TABLE "next_table" ("id" INTEGER NOT NULL);\n');
    await applyMigrations(url, { migrationsDir: migrationsDir });
    // What `prisma migrate deploy` leaves behind when a migration fails midway.
    await withClient(url, (client) =>
      client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, started_at, applied_steps_count)
         VALUES ('8d5c6f3e-5c7e-4a4e-9a59-0a6c1f0e1b2a', repeat('0', 64), '20991230000000_broken', 'boom', now(), 0)`,
      ),
    );

    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(/Migration `20991230000000_broken` .* failed/);
    expect(await tables(url)).not.toEqual(expect.arrayContaining(['next_table']));
  });

  it('rolls a failing migration back completely and records nothing for it', async () => {
    const dir = copyMigrations();
    addMigration(dir, '20991231000000_bad', 'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT * FROM "no_such_table";\n');

    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      /Migration `20991231000000_bad` failed and was rolled back: relation "no_such_table" does not exist/,
    );

    expect((await history(url)).map((row) => row.migration_name)).toEqual(migrationNames);
    expect(await tables(url)).not.toEqual(expect.arrayContaining(['half_done']));
  });
});
