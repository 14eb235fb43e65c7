import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type GitRunner, gitEnvironment, runGit } from './git';

export interface RepositoryCacheOptions {
  /** Where the mirrors live; created 0700 (0750 with `readerGid`) when missing. */
  readonly root: string;
  /** The agents' group (AGENT_USER's): their workspaces borrow the mirrors' objects, so they must read them. */
  readonly readerGid?: number;
  /** The environment git runs with (PATH, HOME, SSH_AUTH_SOCK…); GIT_* variables are dropped. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Each git command's bound. */
  readonly timeoutMs: number;
}

export interface PreparedMirror {
  /** The bare mirror's directory. */
  readonly path: string;
  /** Whether this call cloned it (false: it was there and was fetched). */
  readonly cloned: boolean;
}

const execFileAsync = promisify(execFile);
const LOCK_POLL_MS = 50;

/**
 * One bare mirror per repository URL on this node (`<root>/<sha256(url)[0..32]>.git`): cloned on first use and
 * fetched on each later one, so the sessions' workspaces borrow its objects instead of fetching the repository
 * again. Prepares of one URL are serialized in this process by a promise chain and across processes on the
 * machine by a lock directory (`<hash>.lock`, made with mkdir, which only one creator wins).
 */
export class RepositoryCache {
  readonly git: GitRunner;
  private readonly chains = new Map<string, Promise<unknown>>();

  private constructor(
    readonly root: string,
    private readonly timeoutMs: number,
    env: Record<string, string>,
  ) {
    this.git = { env, timeoutMs };
  }

  static async open(options: RepositoryCacheOptions): Promise<RepositoryCache> {
    await mkdir(options.root, { recursive: true, mode: 0o700 });
    const stats = await lstat(options.root);
    if (!stats.isDirectory()) throw new Error(`repository cache ${options.root} is not a directory`);
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid) throw new Error(`repository cache ${options.root} belongs to uid ${stats.uid}, not ${uid}`);
    if (options.readerGid === undefined) {
      await chmod(options.root, 0o700);
    } else {
      await chown(options.root, stats.uid, options.readerGid);
      await chmod(options.root, 0o750);
    }
    // The sessions' own git directories (workspace.ts): the orchestrator's alone, never the agents'.
    await mkdir(join(options.root, 'sessions'), { recursive: true, mode: 0o700 });
    await chmod(join(options.root, 'sessions'), 0o700);
    return new RepositoryCache(options.root, options.timeoutMs, gitEnvironment(options.env));
  }

  mirrorPath(url: string): string {
    return join(this.root, `${this.keyOf(url)}.git`);
  }

  /** A directory of the orchestrator's for a session's git state, out of its agent's reach. */
  sessionGitDir(sessionId: string): string {
    return join(this.root, 'sessions', `${sessionId}.git`);
  }

  /** The mirror of `url`, cloned or brought up to date (`fetch --prune`). */
  prepare(url: string): Promise<PreparedMirror> {
    const previous = this.chains.get(url) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.withLock(url, () => this.update(url)));
    this.chains.set(url, next);
    // The chain's last link removes itself, so the map holds only URLs being prepared.
    void next
      .catch(() => undefined)
      .then(() => {
        if (this.chains.get(url) === next) this.chains.delete(url);
      });
    return next;
  }

  private async update(url: string): Promise<PreparedMirror> {
    const path = this.mirrorPath(url);
    if (await exists(path)) {
      await runGit(this.git, ['fetch', '--prune', '--quiet', 'origin'], { cwd: path });
      return { path, cloned: false };
    }
    // Cloned beside, then renamed: a clone cut short (timeout, crash) never stands at the mirror's path.
    const partial = `${path}.partial`;
    await rm(partial, { recursive: true, force: true });
    await runGit(this.git, [
      'clone',
      '--mirror',
      '--quiet',
      // Objects later fetches add are world-readable too (see the chmod below).
      '--config',
      'core.sharedRepository=0644',
      // Workspaces borrow these objects: a gc that pruned what a branch deleted upstream left would break them.
      '--config',
      'gc.auto=0',
      '--config',
      'maintenance.auto=false',
      '--',
      url,
      partial,
    ]);
    // World-readable inside a root only the agents' group may enter: their workspaces read these objects, and
    // clone made its files by this process's umask.
    await execFileAsync('chmod', ['-R', 'a+rX', '--', partial]);
    await rename(partial, path);
    return { path, cloned: true };
  }

  /**
   * Runs `use` holding `<hash>.lock`. A holder runs at most one git command (bounded by the timeout), a chmod and a rename,
   * so a lock older than twice the timeout was left by a process that died: it is moved aside and removed.
   */
  private async withLock<T>(url: string, use: () => Promise<T>): Promise<T> {
    const lock = join(this.root, `${this.keyOf(url)}.lock`);
    const staleMs = 2 * this.timeoutMs + 1000;
    const deadline = Date.now() + 2 * staleMs;
    for (;;) {
      try {
        await mkdir(lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const age = await stat(lock).then(
        (stats) => Date.now() - stats.mtimeMs,
        () => 0,
      );
      if (age > staleMs) {
        const aside = `${lock}.stale-${randomBytes(4).toString('hex')}`;
        // Only one of several waiters wins the rename; the others find the lock gone and race for mkdir.
        if (
          await rename(lock, aside).then(
            () => true,
            () => false,
          )
        )
          await rm(aside, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`repository cache: ${lock} held for more than ${2 * staleMs} ms`);
      await sleep(LOCK_POLL_MS);
    }
    try {
      return await use();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }

  private keyOf(url: string): string {
    return createHash('sha256').update(url).digest('hex').slice(0, 32);
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
