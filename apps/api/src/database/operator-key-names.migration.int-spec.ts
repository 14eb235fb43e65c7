import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, dropTestDatabase, withClient } from '../../../../test/support/database';
import { applyMigrations, findMigrationsDir } from './migrator';

const NAMES_MIGRATION = '20261207000100_operator_key_names';

/** Issue 38, finding 8: keys made before names were unique and reserved keep working, under names that tell them apart. */
describe(`migration ${NAMES_MIGRATION}`, () => {
  let url: string;
  let before: string;

  beforeAll(async () => {
    url = await createTestDatabase('key_names');
    // The migrations up to this one, applied first: the database as it was.
    before = mkdtempSync(path.join(tmpdir(), 'mosaic-migrations-'));
    const all = findMigrationsDir();
    for (const name of readdirSync(all).filter((entry) => entry < NAMES_MIGRATION && !entry.endsWith('.toml'))) {
      cpSync(path.join(all, name), path.join(before, name), { recursive: true });
    }
  });

  afterAll(async () => {
    await dropTestDatabase(url);
    rmSync(before, { recursive: true, force: true });
  });

  it('appends its id to a repeated name (the oldest keeps it) and to a reserved one, then refuses repeats', async () => {
    await applyMigrations(url, { migrationsDir: before });
    const keys = [
      ['00000000-0000-4000-8000-000000000001', 'twin', '2026-01-01T00:00:00Z'],
      ['00000000-0000-4000-8000-000000000002', 'twin', '2026-01-02T00:00:00Z'],
      ['00000000-0000-4000-8000-000000000003', ' Admin ', '2026-01-03T00:00:00Z'],
      ['00000000-0000-4000-8000-000000000004', 'budget', '2026-01-04T00:00:00Z'],
      ['00000000-0000-4000-8000-000000000005', 'alone', '2026-01-05T00:00:00Z'],
    ];
    await withClient(url, async (client) => {
      for (const [id, name, createdAt] of keys) {
        await client.query(
          `INSERT INTO operator_keys (id, name, scopes, key_hash, created_at) VALUES ($1::uuid, $2, '{read}', $1::text, $3::timestamptz)`,
          [id, name, createdAt],
        );
      }
    });

    await applyMigrations(url);

    const names = await withClient(
      url,
      async (client) => (await client.query<{ name: string }>('SELECT name FROM operator_keys ORDER BY id')).rows,
    );
    expect(names.map((row) => row.name)).toEqual([
      'twin',
      'twin (00000000-0000-4000-8000-000000000002)',
      ' Admin  (00000000-0000-4000-8000-000000000003)',
      'budget (00000000-0000-4000-8000-000000000004)',
      'alone',
    ]);
    await expect(
      withClient(url, (client) =>
        client.query(
          `INSERT INTO operator_keys (id, name, scopes, key_hash) VALUES (gen_random_uuid(), 'alone', '{read}', 'another hash')`,
        ),
      ),
    ).rejects.toMatchObject({ code: '23505', constraint: 'operator_keys_name_key' });
  });
});
