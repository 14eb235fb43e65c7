import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'pg';
import { deleteEmbeddedPostgres, startEmbeddedPostgres } from '../packages/embedded-postgres/src';
import { applyMigrations } from '../apps/api/src/database/migrator';
import { createDatabase, databaseName, dropDatabase, uniqueDatabaseName, withClient } from '../test/support/database';
import { freePort, nodeArgsOf } from '../test/support/service-process';
import type { StubOrchestrator } from '../test/support/stub-orchestrator';

export const REPO_ROOT = path.resolve(__dirname, '..');
const API_ENTRY = path.join(REPO_ROOT, 'apps/api/dist/main.js');
const BASELINE_ENTRY = path.join(__dirname, 'baseline-server.ts');

export const OPERATOR_TOKEN = 'bench-operator-token';
export const ORCHESTRATOR_KEY = 'bench-orchestrator-key';
/** The API's server key for callback signing secrets: the benchmark derives each signed session's secret from it as the API does. */
export const CALLBACK_SIGNING_KEY = 'bench-callback-signing-key';

/** The PostgreSQL server the benchmark databases are created on: DATABASE_URL's, or a throw-away embedded one. */
export interface DatabaseServer {
  readonly url: string;
  readonly description: string;
  stop(): Promise<void>;
}

export async function startDatabaseServer(): Promise<DatabaseServer> {
  const url = process.env.DATABASE_URL;
  if (url) return { url, description: `PostgreSQL at ${new URL(url).host} (DATABASE_URL)`, stop: async () => undefined };
  const dataDir = path.join(REPO_ROOT, '.data', `bench-${randomBytes(4).toString('hex')}`);
  const embedded = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  return {
    url: embedded.url,
    description: 'embedded PostgreSQL (DATABASE_URL unset)',
    stop: async () => {
      await embedded.stop();
      await deleteEmbeddedPostgres(dataDir);
    },
  };
}

/** A fresh, migrated `mosaic_bench_*` database for one benchmark, dropped by `use`'s end whatever happens. */
export async function withBenchDatabase<T>(server: DatabaseServer, use: (url: string) => Promise<T>): Promise<T> {
  const url = await createDatabase(server.url, uniqueDatabaseName('mosaic_bench'));
  try {
    await applyMigrations(url);
    return await use(url);
  } finally {
    await dropDatabase(server.url, databaseName(url));
  }
}

export function query<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  return withClient(url, use);
}

/** A service under test, running as its own process. */
export interface BenchProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `node <entry>` on a free port and waits for `/health`. Its output goes
 * to a file, not through this process: the API logs every request, and reading
 * that here would take CPU from the load generator on the same machine.
 */
async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string | undefined>,
  nodeArgs: string[] = [],
): Promise<BenchProcess> {
  const port = await freePort();
  const logFile = path.join(tmpdir(), `mosaic-bench-${name}-${port}.log`);
  const fd = openSync(logFile, 'w');
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' })) {
    if (value !== undefined) childEnv[key] = value;
  }
  const child = spawn(process.execPath, [...nodeArgs, entry], { env: childEnv, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  // Remembers the end whenever it comes.
  void exited.then(() => (running = false));
  const stop = async () => {
    if (running) child.kill('SIGTERM');
    if ((await Promise.race([exited.then(() => true), sleep(10_000, false, { ref: false })])) === false) child.kill('SIGKILL');
    await exited;
    await rm(logFile, { force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (running && Date.now() < deadline) {
    const status = await fetch(`${url}/health`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return { url, pid: child.pid ?? 0, stop };
    await sleep(100);
  }
  const output = readFileSync(logFile, 'utf8').slice(-5_000);
  await stop();
  throw new Error(`${name} did not become healthy:\n${output}`);
}

/**
 * The built API, run as `pnpm start` runs it, with reconciliation out of the way so that it does not load the database mid-run;
 * `env` adds to its environment.
 */
export function startApi(databaseUrl: string, orchestrator: StubOrchestrator, env: Record<string, string> = {}): Promise<BenchProcess> {
  return startProcess(
    'api',
    API_ENTRY,
    {
      DATABASE_URL: databaseUrl,
      ORCHESTRATOR_URL: orchestrator.url,
      ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
      MOSAIC_API_TOKEN: OPERATOR_TOKEN,
      CALLBACK_SIGNING_KEY,
      RECONCILE_INTERVAL_MS: String(60 * 60 * 1000),
      NODE_OPTIONS: undefined,
      ...env,
    },
    nodeArgsOf(API_ENTRY),
  );
}

/**
 * The baseline: a bare Fastify route with one INSERT per request (bench/baseline-server.ts), run through ts-node,
 * into the events table or (`floor`) into a copy of it with only a primary key.
 */
export function startBaseline(databaseUrl: string, table: 'events' | 'floor' = 'events'): Promise<BenchProcess> {
  return startProcess(`baseline-${table}`, BASELINE_ENTRY, {
    DATABASE_URL: databaseUrl,
    BASELINE_TABLE: table,
    NODE_OPTIONS: '--require ts-node/register/transpile-only',
  });
}

/** The dispatch benchmark's floor (bench/baseline-server.ts): the same process, spawning with `spawn`'s request on each dispatch. */
export function startDispatchFloor(
  databaseUrl: string,
  spawn: { url: string; headers: Record<string, string>; body: string },
): Promise<BenchProcess> {
  return startProcess('dispatch-floor', BASELINE_ENTRY, {
    DATABASE_URL: databaseUrl,
    SPAWN_URL: spawn.url,
    SPAWN_HEADERS: JSON.stringify(spawn.headers),
    SPAWN_BODY: spawn.body,
    NODE_OPTIONS: '--require ts-node/register/transpile-only',
  });
}

/** Resident memory of a process, from /proc (Linux only). */
export function residentMegabytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) / 1024;
}

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly failed: number;
}

/** One autocannon run; latencies are of 2xx answers, `failed` counts everything else. */
export async function load(options: autocannon.Options): Promise<LoadResult> {
  const result = await autocannon({ ...options, timeout: 10 });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
