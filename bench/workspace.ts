import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RepositoryCache } from '../apps/orchestrator/src/workspaces/repository-cache';
import { collectArtifacts, prepareWorkspace, workspaceBytes } from '../apps/orchestrator/src/workspaces/workspace';
import { median } from './support';

export const WORKSPACE_FILES = 10_000;
export const WORKSPACE_ROUNDS = 5;
/** workspaceBytes calls per round: it runs every few seconds for each session, so its cost is per call. */
export const WORKSPACE_BYTES_CALLS = 5;
const DIRECTORIES = 100;

export interface WorkspaceResult {
  /** A session's workspace on a node that has no mirror yet: the mirror's clone, then the workspace. */
  readonly firstPrepareP50Ms: number;
  /** The next session's on the same node: a fetch into the mirror, then the workspace. */
  readonly secondPrepareP50Ms: number;
  /** Packs and loose objects found in the second workspace's own object store, over all rounds (0: all borrowed). */
  readonly objectsCopied: number;
  readonly mirrorObjectsKib: number;
  /** collectArtifacts after one file of the 10,000 was changed: the commit, the patch and changes.json. */
  readonly collectP50Ms: number;
  readonly bytesP50Ms: number;
  readonly workspaceKib: number;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@localhost', ...args], { cwd, encoding: 'utf8' });

/** WORKSPACE_FILES small files in DIRECTORIES nested directories, one commit. */
async function makeRepository(root: string): Promise<string> {
  const repository = path.join(root, 'repository');
  git(root, 'init', '--quiet', '-b', 'main', repository);
  for (let d = 0; d < DIRECTORIES; d++) {
    const directory = path.join(repository, `pkg${d % 10}`, `module${d}`);
    await mkdir(directory, { recursive: true });
    for (let f = 0; f < WORKSPACE_FILES / DIRECTORIES; f++)
      await writeFile(path.join(directory, `file${f}.ts`), `export const value${d}_${f} = ${d * f};\n`);
  }
  git(repository, 'add', '-A');
  git(repository, 'commit', '--quiet', '-m', 'ten thousand files');
  return repository;
}

async function ownObjects(gitDir: string): Promise<number> {
  const objects = path.join(gitDir, 'objects');
  let count = 0;
  for (const entry of await readdir(objects)) {
    if (entry === 'pack') count += (await readdir(path.join(objects, 'pack'))).filter((file) => file.endsWith('.pack')).length;
    else if (/^[0-9a-f]{2}$/.test(entry)) count += (await readdir(path.join(objects, entry))).length;
  }
  return count;
}

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const began = performance.now();
  const result = await work();
  return [performance.now() - began, result];
}

/**
 * A 10,000-file repository: each round a node with no mirror prepares a first session's workspace (the mirror's
 * clone included) and then a second session's (which must borrow the mirror's objects, not copy them); then the
 * second session's one-file change is collected and its workspace measured as WORKSPACE_MAX_BYTES does.
 */
export async function benchWorkspace(log: (line: string) => void): Promise<WorkspaceResult> {
  const root = await mkdtemp(path.join(tmpdir(), 'bench-workspace-'));
  const first: number[] = [];
  const second: number[] = [];
  const collect: number[] = [];
  const bytes: number[] = [];
  let objectsCopied = 0;
  let workspaceKib = 0;
  let mirrorObjectsKib = 0;
  try {
    const url = `file://${await makeRepository(root)}`;
    log(`  ${WORKSPACE_FILES} files committed`);
    for (let round = 0; round < WORKSPACE_ROUNDS; round++) {
      const node = path.join(root, `node${round}`);
      await mkdir(node);
      const cache = await RepositoryCache.open({ root: path.join(node, 'cache'), env: { PATH: process.env.PATH }, timeoutMs: 120_000 });
      const repository = { url };
      const [firstMs] = await timed(() => prepareWorkspace({ sessionId: 'first', path: path.join(node, 'first'), repository, cache }));
      const secondPath = path.join(node, 'second');
      const [secondMs] = await timed(() => prepareWorkspace({ sessionId: 'second', path: secondPath, repository, cache }));
      first.push(firstMs);
      second.push(secondMs);
      objectsCopied += await ownObjects(path.join(secondPath, '.git'));
      mirrorObjectsKib = (await workspaceBytes(path.join(cache.mirrorPath(url), 'objects'))) / 1024;

      await writeFile(path.join(secondPath, 'pkg0', 'module0', 'file0.ts'), 'export const changed = true;\n');
      const [collectMs, collected] = await timed(() =>
        collectArtifacts({ sessionId: 'second', path: secondPath, repository, cache, maxBytes: 5 * 1024 * 1024 }),
      );
      if (collected.artifacts.length !== 2) throw new Error(`collected ${collected.artifacts.length} artifacts, not 2`);
      collect.push(collectMs);
      for (let call = 0; call < WORKSPACE_BYTES_CALLS; call++) {
        const [bytesMs, size] = await timed(() => workspaceBytes(secondPath));
        bytes.push(bytesMs);
        workspaceKib = size / 1024;
      }
      await rm(node, { recursive: true, force: true });
      log(`  round ${round + 1} of ${WORKSPACE_ROUNDS}: ${Math.round(firstMs)} ms, then ${Math.round(secondMs)} ms`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return {
    firstPrepareP50Ms: median(first),
    secondPrepareP50Ms: median(second),
    objectsCopied,
    mirrorObjectsKib,
    collectP50Ms: median(collect),
    bytesP50Ms: median(bytes),
    workspaceKib,
  };
}
