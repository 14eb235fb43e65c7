import type { ArtifactData, RepositoryRequest } from '@mosaic/orchestrator-contract';
import { execFile } from 'node:child_process';
import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { artifactOf, outArtifacts } from './artifacts';
import { changedFiles } from './changes';
import { runGit } from './git';
import type { RepositoryCache } from './repository-cache';

const execFileAsync = promisify(execFile);

/** Whom a workspace belongs to when agents run as another user (AGENT_USER). */
export interface WorkspaceOwner {
  readonly uid: number;
  readonly gid: number;
}

export interface PrepareWorkspaceOptions {
  readonly sessionId: string;
  /** The workspace's directory: made here (0700, exclusively); its parent must exist. */
  readonly path: string;
  readonly repository?: RepositoryRequest;
  readonly cache: RepositoryCache;
  readonly owner?: WorkspaceOwner;
}

export interface PreparedWorkspace {
  /** With a repository: `mosaic/<session id>`, checked out at `base`. */
  readonly branch?: string;
  readonly base?: string;
}

export interface CollectArtifactsOptions {
  readonly sessionId: string;
  readonly path: string;
  readonly repository?: RepositoryRequest;
  readonly cache: RepositoryCache;
  /** ARTIFACT_MAX_BYTES: each artifact's content is cut there. */
  readonly maxBytes: number;
}

export interface CollectedArtifacts {
  readonly artifacts: ArtifactData[];
  /** The branch pushed, when the task asked `repository.push`. */
  readonly branch?: string;
  /** Files under `out/` left out, each with why. */
  readonly skipped: string[];
}

export interface RemoveWorkspaceOptions {
  readonly sessionId: string;
  readonly path: string;
  readonly cache: RepositoryCache;
}

export const BASE_REF = 'refs/mosaic/base';
const IDENTITY = { name: 'Mosaic', email: 'mosaic@localhost' };
// A session id becomes a branch name and a directory name: nothing else than a UUID's characters.
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const REPOSITORY_PROTOCOLS = ['file:', 'https:', 'ssh:'];

export function branchOf(sessionId: string): string {
  return `mosaic/${checkedSessionId(sessionId)}`;
}

/**
 * Makes a session's workspace. Without a repository, an empty directory. With one: a clone of the node's mirror
 * of it (RepositoryCache) that borrows the mirror's objects (`--shared`: nothing copied, and the workspace stays
 * a plain directory that `rm -rf` removes), on a new branch `mosaic/<session id>` at `ref` (the mirror's HEAD,
 * the repository's default branch, when absent). Beside it, out of the agent's reach, the session's own git
 * directory (RepositoryCache.sessionGitDir) records the base commit (`refs/mosaic/base`) and is what
 * collectArtifacts commits with: the workspace's `.git` is the agent's to write, and its config or hooks must
 * never run in the orchestrator. On failure the caller removes what was made (removeWorkspace).
 */
export async function prepareWorkspace(options: PrepareWorkspaceOptions): Promise<PreparedWorkspace> {
  const { sessionId, path, repository, cache, owner } = options;
  const branch = branchOf(sessionId);
  if (repository === undefined) {
    await mkdir(path, { mode: 0o700 });
    await chownTree(path, owner);
    return {};
  }
  const mirror = await cache.prepare(repository.url);
  const base = await resolveCommit(cache, mirror.path, repository.ref);
  await mkdir(path, { mode: 0o700 });
  const inWorkspace = (args: readonly string[]) => runGit(cache.git, args, { cwd: path });
  await runGit(cache.git, ['clone', '--shared', '--no-checkout', '--quiet', '--', mirror.path, path]);
  await inWorkspace(['config', 'user.name', IDENTITY.name]);
  await inWorkspace(['config', 'user.email', IDENTITY.email]);
  await inWorkspace(['checkout', '--quiet', '-b', branch, base, '--']);

  const gitDir = cache.sessionGitDir(sessionId);
  await runGit(cache.git, ['init', '--bare', '--quiet', '--', gitDir]);
  await writeFile(join(gitDir, 'objects', 'info', 'alternates'), `${join(mirror.path, 'objects')}\n`);
  const record = (args: readonly string[]) => runGit(cache.git, ['--git-dir', gitDir, ...args]);
  await record(['config', 'user.name', IDENTITY.name]);
  await record(['config', 'user.email', IDENTITY.email]);
  await record(['update-ref', BASE_REF, base]);
  await record(['update-ref', `refs/heads/${branch}`, base]);
  await record(['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  await record(['read-tree', base]);
  await chownTree(path, owner);
  return { branch, base };
}

/**
 * What the session produced, once its agent has ended. With a repository: its work tree committed on
 * `mosaic/<session id>` (once: a second call finds nothing new and sends the same), `changes.patch` (from the
 * base, `git apply`-able) and `changes.json`; pushed to the repository's URL when `push` is set. Without one:
 * the files under `out/` (artifacts.ts).
 */
export async function collectArtifacts(options: CollectArtifactsOptions): Promise<CollectedArtifacts> {
  const { sessionId, path, repository, cache, maxBytes } = options;
  const stats = await lstat(path);
  if (!stats.isDirectory()) throw new Error(`workspace ${path} is not a directory`);
  if (repository === undefined) return outArtifacts(join(path, 'out'), maxBytes);

  const branch = branchOf(sessionId);
  const gitDir = cache.sessionGitDir(sessionId);
  // The session's git directory and the agent's files: no hook, no config of the agent's takes part.
  const git = (args: readonly string[], keepBytes?: number, okCodes?: number[]) =>
    runGit(cache.git, ['-c', 'core.hooksPath=/dev/null', '--git-dir', gitDir, '--work-tree', path, ...args], {
      cwd: path,
      keepBytes,
      okCodes,
    });
  await git(['add', '--all']);
  const staged = await git(['diff', '--cached', '--quiet', 'HEAD', '--'], undefined, [1]);
  if (staged.code === 1) await git(['commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', `mosaic: session ${sessionId}`]);

  // Fixed prefixes and no external tools whatever the node's git configuration says: the patch must apply anywhere.
  const diff = ['diff', '-M', '--no-color', '--no-ext-diff', '--no-textconv', '--src-prefix=a/', '--dst-prefix=b/'];
  const range = [BASE_REF, 'HEAD', '--'];
  const patch = await git([...diff, '--binary', ...range], maxBytes);
  const nameStatus = await git([...diff, '-z', '--name-status', ...range]);
  const numstat = await git([...diff, '-z', '--numstat', ...range]);
  const changes = Buffer.from(
    `${JSON.stringify(changedFiles(nameStatus.stdout.toString('utf8'), numstat.stdout.toString('utf8')), null, 2)}\n`,
  );
  const artifacts = [
    artifactOf('changes.patch', 'text/x-diff', patch.stdout, patch.size, maxBytes),
    artifactOf('changes.json', 'application/json', changes, changes.length, maxBytes),
  ];
  if (repository.push !== true) return { artifacts, skipped: [] };
  await git(['push', '--quiet', '--no-verify', '--', repository.url, `refs/heads/${branch}:refs/heads/${branch}`]);
  return { artifacts, branch, skipped: [] };
}

/** Removes the workspace and the session's git directory. */
export async function removeWorkspace(options: RemoveWorkspaceOptions): Promise<void> {
  await rm(options.path, { recursive: true, force: true });
  await rm(options.cache.sessionGitDir(checkedSessionId(options.sessionId)), { recursive: true, force: true });
}

/**
 * The disk a workspace takes, in bytes (`du -sk`: blocks, hard links once), for WORKSPACE_MAX_BYTES. Files
 * removed while du runs make it exit 1 with a total still printed: that total is used.
 */
export async function workspaceBytes(path: string, timeoutMs = 60_000): Promise<number> {
  const output = await execFileAsync('du', ['-sk', '--', path], { timeout: timeoutMs }).catch((error: { stdout?: string }) => {
    if (typeof error.stdout === 'string' && /^\d+\s/.test(error.stdout)) return { stdout: error.stdout };
    throw error;
  });
  const kib = /^(\d+)\s/.exec(output.stdout);
  if (kib === null) throw new Error(`du -sk ${path}: unexpected output ${JSON.stringify(output.stdout.slice(0, 100))}`);
  return Number(kib[1]) * 1024;
}

/**
 * ALLOWED_REPOSITORY_URLS: unset, any file://, https:// or ssh:// URL; set, the URL must also start with one of the
 * prefixes, at a path boundary (a prefix `https://git.example/team` admits neither `…/team-b` nor
 * `https://git.example/team@elsewhere`), and be written as the URL parser writes it, so no `..` or `%2e%2e`
 * climbs out of the prefix once the URL is resolved.
 */
export function isAllowedRepositoryUrl(url: string, prefixes: readonly string[] | undefined): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (!REPOSITORY_PROTOCOLS.includes(parsed.protocol)) return false;
  if (prefixes === undefined) return true;
  if (parsed.href !== url) return false;
  return prefixes.some((prefix) => {
    if (!url.startsWith(prefix)) return false;
    return url.length === prefix.length || prefix.endsWith('/') || url.charAt(prefix.length) === '/';
  });
}

async function resolveCommit(cache: RepositoryCache, mirror: string, ref: string | undefined): Promise<string> {
  const output = await runGit(cache.git, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref ?? 'HEAD'}^{commit}`], {
    cwd: mirror,
    okCodes: [1],
  });
  const commit = output.stdout.toString('utf8').trim();
  if (output.code !== 0 || commit === '')
    throw new Error(`repository.ref ${JSON.stringify(ref ?? 'HEAD')}: no such commit in the repository`);
  return commit;
}

/** `chown -R -h`: symlinks themselves, never what they point to. */
async function chownTree(path: string, owner: WorkspaceOwner | undefined): Promise<void> {
  if (owner !== undefined) await execFileAsync('chown', ['-R', '-h', `${owner.uid}:${owner.gid}`, '--', path]);
}

function checkedSessionId(sessionId: string): string {
  if (!SESSION_ID.test(sessionId)) throw new Error(`session id ${JSON.stringify(sessionId)} cannot name a branch or a directory`);
  return sessionId;
}
