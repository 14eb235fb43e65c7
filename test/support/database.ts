import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { applyMigrations } from '../../apps/api/src/database/migrator';

/** URL of the migrated database global-setup.ts created for this test run. */
export function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (test/support/global-setup.ts)');
  return url;
}

/** `url` with its database name replaced. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

export async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

// Lower case so the name needs no quoting anywhere (psql, URLs, pg_database).
export function uniqueDatabaseName(prefix: string): string {
  const name = `${prefix}_${Date.now()}_${randomBytes(4).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(name) || name.length > 63) throw new Error(`Unusable database name ${name}`);
  return name;
}

/** Creates database `name` on the server of `serverUrl` and returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
  return databaseUrl(serverUrl, name);
}

/** Drops database `name` through a connection to `serverUrl`, first ending the sessions still using it. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, async (client) => {
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}`);
  });
}

/**
 * A further fresh database on the test server, for tests that need one of their
 * own. Its name starts with this run's database name, so the global teardown
 * drops it even if the test could not. Drop it with `dropTestDatabase`.
 */
export async function createTestDatabase(prefix: string, options: { migrate?: boolean } = {}): Promise<string> {
  const runUrl = testDatabaseUrl();
  const url = await createDatabase(runUrl, uniqueDatabaseName(`${databaseName(runUrl)}_${prefix}`.slice(0, 40)));
  if (options.migrate) await applyMigrations(url);
  return url;
}

export async function dropTestDatabase(url: string): Promise<void> {
  await dropDatabase(testDatabaseUrl(), databaseName(url));
}
