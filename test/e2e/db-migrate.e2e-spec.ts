import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { deleteEmbeddedPostgres } from '../../packages/embedded-postgres/src';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase, withClient } from '../support/database';
import { liveProcessesMentioning } from '../support/process-table';
import { freePort } from '../support/service-process';

const ROOT = join(__dirname, '..', '..');
const MIGRATIONS = readdirSync(join(ROOT, 'prisma', 'migrations'), { withFileTypes: true }).filter((entry) => entry.isDirectory());

jest.setTimeout(60_000);

/** Runs `pnpm db:migrate` as docs/operations.md has a newcomer run it; `undefined` removes a variable. */
async function dbMigrate(env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const childEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, ...env })) {
    if (value !== undefined) childEnv[name] = value;
  }
  const child = spawn('pnpm', ['db:migrate'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

describe('pnpm db:migrate', () => {
  it('migrates DATABASE_URL, and applies nothing the second time', async () => {
    const url = await createTestDatabase('cli');
    try {
      const first = await dbMigrate({ DATABASE_URL: url });
      expect(first).toMatchObject({ code: 0 });
      expect(first.output).toContain(`Applied ${MIGRATIONS.length} migration(s)`);
      const recorded = await withClient(url, (client) => client.query('SELECT 1 FROM "_prisma_migrations" WHERE finished_at IS NOT NULL'));
      expect(recorded.rowCount).toBe(MIGRATIONS.length);

      const second = await dbMigrate({ DATABASE_URL: url });
      expect(second).toMatchObject({ code: 0 });
      expect(second.output).toContain(`No pending migrations (${MIGRATIONS.length} already applied).`);
    } finally {
      await dropTestDatabase(url);
    }
  });

  it("with NODE_ENV=production needs DATABASE_URL only, none of the services' secrets", async () => {
    const url = await createTestDatabase('cli_production');
    try {
      const { code, output } = await dbMigrate({
        NODE_ENV: 'production',
        DATABASE_URL: url,
        MOSAIC_API_TOKEN: undefined,
        ORCHESTRATOR_API_KEY: undefined,
        ORCHESTRATOR_API_KEY_FILE: undefined,
        CALLBACK_SIGNING_KEY: undefined,
      });

      expect({ code, output }).toMatchObject({ code: 0 });
      expect(output).toContain(`Applied ${MIGRATIONS.length} migration(s)`);
    } finally {
      await dropTestDatabase(url);
    }
  });

  it('without DATABASE_URL, migrates the embedded PostgreSQL where the API would start it, and stops it', async () => {
    const dataDir = join(ROOT, '.data', `migrate-test-${randomBytes(4).toString('hex')}`);
    const port = await freePort();
    try {
      const { code, output } = await dbMigrate({
        DATABASE_URL: undefined,
        EMBEDDED_DATABASE_DIR: dataDir,
        EMBEDDED_DATABASE_PORT: String(port),
      });

      expect({ code, output }).toMatchObject({ code: 0 });
      expect(output).toContain(`DATABASE_URL is not set: migrating the embedded PostgreSQL in ${dataDir} on port ${port}`);
      expect(output).toContain(`Applied ${MIGRATIONS.length} migration(s)`);
      const usingDataDir = liveProcessesMentioning(dataDir);
      expect(usingDataDir).toEqual([]);
    } finally {
      await deleteEmbeddedPostgres(dataDir);
    }
  });

  it('stops on a wrong setting with the configuration message naming it', async () => {
    const { code, output } = await dbMigrate({ DATABASE_URL: 'mysql://127.0.0.1/mosaic' });

    expect(code).toBe(1);
    expect(output).toMatch(/^db:migrate failed: Invalid configuration: .*DATABASE_URL/m);
  });
});
