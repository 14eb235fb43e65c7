import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deleteEmbeddedPostgres, startEmbeddedPostgres } from '../../packages/embedded-postgres/src';
import { applyMigrations } from '../../apps/api/src/database/migrator';
import { createDatabase, uniqueDatabaseName, withClient } from './database';
import { reachableRedis } from './redis';
import { freePort } from './service-process';

/** What global-teardown.ts needs; both run in Jest's main process. */
export interface TestDatabaseState {
  /** A connection to the server that is not the run's database, for CREATE/DROP DATABASE. */
  serverUrl: string;
  runDatabase: string;
  spools: string;
  /** Where each system spec file leaves its scenarios' figures for docs/reliability.md (test/system/scenario.ts). */
  figures: string;
  embedded?: { dataDir: string; stop(): Promise<void> };
}

declare global {
  var __mosaicTestDatabase: TestDatabaseState | undefined;
}

const repoRoot = path.resolve(__dirname, '..', '..');

/** The connections a whole run may hold at once: the system files side by side start clusters and API instances. */
const RUN_MAX_CONNECTIONS = 300;

/**
 * Gives the test run a fresh, migrated database and exposes its URL to the
 * workers (which inherit this process's environment) as TEST_DATABASE_URL:
 * on DATABASE_URL's server when set, otherwise (the README's command, and CI)
 * on a throw-away embedded PostgreSQL.
 */
export default async function globalSetup(globalConfig: { selectProjects?: string[] }): Promise<void> {
  // Unit and integration specs run the real supervisor binary, so it must be built (and current) first.
  execFileSync(process.execPath, [path.join(repoRoot, 'apps', 'orchestrator', 'scripts', 'build-supervisor.mjs')], { stdio: 'inherit' });
  // A unit-only run needs no database, and starting one would double its time.
  const projects = globalConfig.selectProjects;
  if (projects && projects.length > 0 && projects.every((project) => project === 'unit')) return;

  const runDatabase = uniqueDatabaseName('mosaic_test');
  // The agents' spools of every orchestrator the run starts (workerSpoolRoot), removed by the teardown.
  const spools = path.join(tmpdir(), `mosaic-test-spools-${randomBytes(4).toString('hex')}`);
  process.env.MOSAIC_TEST_SPOOLS = spools;
  const figures = await mkdtemp(path.join(tmpdir(), 'mosaic-test-figures-'));
  process.env.MOSAIC_TEST_FIGURES = figures;
  const state: TestDatabaseState = { serverUrl: process.env.DATABASE_URL ?? '', runDatabase, spools, figures };
  globalThis.__mosaicTestDatabase = state;

  if (!state.serverUrl) {
    const dataDir = path.join(repoRoot, '.data', `test-${randomBytes(4).toString('hex')}`);
    const output: string[] = [];
    try {
      const embedded = await startEmbeddedPostgres({
        dataDir,
        port: await freePort(),
        maxConnections: RUN_MAX_CONNECTIONS,
        log: (line) => output.push(line),
      });
      state.embedded = { dataDir, stop: embedded.stop };
      state.serverUrl = embedded.url;
    } catch (error) {
      await deleteEmbeddedPostgres(dataDir);
      process.stderr.write(`${output.join('\n')}\n`);
      throw error;
    }
  } else if (!projects || projects.length === 0 || projects.includes('system')) {
    await requireConnections(state.serverUrl, RUN_MAX_CONNECTIONS);
  }

  const url = await createDatabase(state.serverUrl, runDatabase);
  await applyMigrations(url);
  process.env.TEST_DATABASE_URL = url;
  // Every orchestrator the tests start keeps its queue there (each under its own QUEUE_PREFIX), not on an embedded server of its own.
  process.env.ORCHESTRATOR_DATABASE_URL ??= url;
  // The Redis store's tests run where a Redis answers; CI (.ci/run) starts one and sets TEST_REDIS_URL.
  const redis = process.env.TEST_REDIS_URL ?? (await reachableRedis());
  if (redis !== undefined) process.env.TEST_REDIS_URL = redis;
}

/** Stops the run at once, saying why, when DATABASE_URL's server would refuse connections halfway through it. */
async function requireConnections(serverUrl: string, needed: number): Promise<void> {
  const allowed = await withClient(serverUrl, async (client) =>
    Number((await client.query<{ max_connections: string }>('SHOW max_connections')).rows[0].max_connections),
  );
  if (allowed < needed) {
    throw new Error(
      `DATABASE_URL's server allows ${allowed} connections; the whole suite, its files side by side, needs ${needed}. ` +
        'Raise its max_connections, or unset DATABASE_URL to run on an embedded PostgreSQL.',
    );
  }
}
