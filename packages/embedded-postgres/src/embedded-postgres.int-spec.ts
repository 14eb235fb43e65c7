import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../../test/support/service-process';
import { defaultEmbeddedDataDir, embeddedPasswordFile, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

async function connects(url: string): Promise<boolean | string> {
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function currentDatabase(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>('SELECT current_database() AS name');
    return rows[0]!.name;
  } finally {
    await client.end();
  }
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

describe('the embedded PostgreSQL', () => {
  // Under the repository's .data/, as the real one, so that the postgres user (when root) can reach it.
  const parent = path.join(REPO_ROOT, '.data', `password-test-${randomBytes(4).toString('hex')}`);
  const dataDir = path.join(parent, 'postgres');
  const passwordFile = path.join(parent, 'postgres.password');
  let port: number;
  let server: EmbeddedPostgres | undefined;

  beforeAll(async () => {
    mkdirSync(parent, { recursive: true });
    port = await freePort();
  });

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('gets a random password, kept beside its data directory with mode 0600, and refuses the old default', async () => {
    server = await startEmbeddedPostgres({ dataDir, port });

    expect(embeddedPasswordFile(dataDir)).toBe(passwordFile);
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    const password = readFileSync(passwordFile, 'utf8').trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(new URL(server.url).password).toBe(password);
    expect(await currentDatabase(server.url)).toBe('mosaic');
    // 28P01: invalid_password.
    expect(await connects(withPassword(server.url, 'password'))).toBe('28P01');
  }, 60_000);

  it('reuses it on the next start', async () => {
    const password = readFileSync(passwordFile, 'utf8').trim();
    server = await startEmbeddedPostgres({ dataDir, port });
    expect(new URL(server.url).password).toBe(password);
    expect(await connects(server.url)).toBe(true);
  }, 60_000);

  it('gives a cluster made before the password file (password "password") a random password of its own', async () => {
    const before = readFileSync(passwordFile, 'utf8').trim();
    server = await startEmbeddedPostgres({ dataDir, port });
    const client = new Client({ connectionString: server.url });
    await client.connect();
    await client.query(`ALTER ROLE postgres PASSWORD 'password'`);
    await client.end();
    await server.stop();
    rmSync(passwordFile);

    server = await startEmbeddedPostgres({ dataDir, port });

    const password = readFileSync(passwordFile, 'utf8').trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(password).not.toBe(before);
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    expect(await connects(server.url)).toBe(true);
    expect(await connects(withPassword(server.url, 'password'))).toBe('28P01');
  }, 60_000);

  it('refuses a password file other users may read', async () => {
    chmodSync(passwordFile, 0o644);
    try {
      await expect(startEmbeddedPostgres({ dataDir, port })).rejects.toThrow(
        `${passwordFile} may be read by other users (mode 644): make it 0600`,
      );
    } finally {
      chmodSync(passwordFile, 0o600);
    }
  });

  it('gives another data directory another password', async () => {
    const otherDir = path.join(parent, 'other');
    server = await startEmbeddedPostgres({ dataDir: otherDir, port });
    expect(readFileSync(path.join(parent, 'other.password'), 'utf8')).not.toBe(readFileSync(passwordFile, 'utf8'));
  }, 60_000);

  it('creates the database a caller names, also on a server already running', async () => {
    server = await startEmbeddedPostgres({ dataDir, port, database: 'queue' });
    expect(await currentDatabase(server.url)).toBe('queue');

    const shared = await startEmbeddedPostgres({ dataDir, port, database: 'other-queue' });
    expect(await currentDatabase(shared.url)).toBe('other-queue');
    await shared.stop();
    expect(await connects(server.url)).toBe(true);
  }, 60_000);

  it('keeps default data directories under .data/ in the repository', () => {
    expect(defaultEmbeddedDataDir('queue')).toBe(path.join(REPO_ROOT, '.data', 'queue'));
  });
});
