import { type ArtifactData, artifactDataSchema, changedFileSchema } from '@mosaic/orchestrator-contract';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepositoryCache } from './repository-cache';
import { BASE_REF, collectArtifacts, prepareWorkspace, removeWorkspace, workspaceBytes } from './workspace';

const GIT_ENV = { PATH: process.env.PATH, HOME: tmpdir() };
const IDENTITY = ['-c', 'user.name=Seed', '-c', 'user.email=seed@localhost'];

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: { ...GIT_ENV, GIT_CONFIG_NOSYSTEM: '1' }, encoding: 'utf8' }).trim();
}

function artifact(artifacts: readonly ArtifactData[], name: string): ArtifactData {
  const found = artifacts.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no artifact ${name} in ${artifacts.map((a) => a.name).join(', ')}`);
  return found;
}

function contentOf(data: ArtifactData): Buffer {
  return Buffer.from(data.content_base64, 'base64');
}

/** Packs and loose objects in a git directory's own object store (not its alternates'). */
function ownObjects(gitDir: string): string[] {
  const objects = join(gitDir, 'objects');
  return readdirSync(objects).flatMap((entry) => {
    if (entry === 'pack') return readdirSync(join(objects, 'pack')).filter((file) => file.endsWith('.pack'));
    return /^[0-9a-f]{2}$/.test(entry) ? readdirSync(join(objects, entry)) : [];
  });
}

describe('workspaces on real git', () => {
  let root: string;
  let origin: string;
  let url: string;
  let cache: RepositoryCache;
  let mainCommit: string;
  let tagCommit: string;
  const app = ['export function app() {', '  return 1;', '}', ''].join('\n');
  const story = Array.from({ length: 20 }, (_, i) => `line ${i} of a file that moves`).join('\n') + '\n';

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'workspaces-'));
    const seed = join(root, 'seed');
    origin = join(root, 'origin.git');
    url = `file://${origin}`;
    await mkdir(join(seed, 'src'), { recursive: true });
    git(root, 'init', '--quiet', '-b', 'main', seed);
    await writeFile(join(seed, 'README.md'), '# seed\n');
    git(seed, 'add', '-A');
    git(seed, ...IDENTITY, 'commit', '--quiet', '-m', 'first');
    git(seed, 'tag', 'v1');
    await writeFile(join(seed, 'src', 'app.ts'), app);
    await writeFile(join(seed, 'old-name.txt'), story);
    await writeFile(join(seed, 'delete-me.txt'), 'one\ntwo\nthree\n');
    git(seed, 'add', '-A');
    git(seed, ...IDENTITY, 'commit', '--quiet', '-m', 'second');
    git(seed, 'checkout', '--quiet', '-b', 'feature');
    await writeFile(join(seed, 'feature.txt'), 'feature\n');
    git(seed, 'add', '-A');
    git(seed, ...IDENTITY, 'commit', '--quiet', '-m', 'feature');
    git(seed, 'checkout', '--quiet', 'main');
    git(root, 'clone', '--quiet', '--bare', seed, origin);
    mainCommit = git(origin, 'rev-parse', 'main');
    tagCommit = git(origin, 'rev-parse', 'v1^{commit}');
    cache = await RepositoryCache.open({ root: join(root, 'cache'), env: GIT_ENV, timeoutMs: 20_000 });
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives two sessions independent workspaces on their own branches, borrowing one mirror', async () => {
    const first = join(root, 'w-first');
    const second = join(root, 'w-second');
    const cacheCloned = jest.spyOn(cache, 'prepare');
    expect(await prepareWorkspace({ sessionId: 'first', path: first, repository: { url }, cache })).toEqual({
      branch: 'mosaic/first',
      base: mainCommit,
    });
    await prepareWorkspace({ sessionId: 'second', path: second, repository: { url }, cache });
    expect(await cacheCloned.mock.results[0]!.value).toMatchObject({ cloned: true });
    expect(await cacheCloned.mock.results[1]!.value).toMatchObject({ cloned: false });
    cacheCloned.mockRestore();

    for (const [path, id] of [
      [first, 'first'],
      [second, 'second'],
    ] as const) {
      expect(git(path, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe(`mosaic/${id}`);
      expect(git(path, 'rev-parse', 'HEAD')).toBe(mainCommit);
      expect(git(path, 'config', 'user.name')).toBe('Mosaic');
      expect(git(path, 'config', 'user.email')).toBe('mosaic@localhost');
      // Borrowed, not copied: the objects are the mirror's.
      expect(await readFile(join(path, '.git', 'objects', 'info', 'alternates'), 'utf8')).toBe(
        `${join(cache.mirrorPath(url), 'objects')}\n`,
      );
      expect(ownObjects(join(path, '.git'))).toEqual([]);
      expect(ownObjects(cache.sessionGitDir(id))).toEqual([]);
      expect((await stat(path)).mode & 0o777).toBe(0o700);
    }
    await writeFile(join(first, 'only-first.txt'), 'x\n');
    expect(existsSync(join(second, 'only-first.txt'))).toBe(false);
    await removeWorkspace({ sessionId: 'first', path: first, cache });
    await removeWorkspace({ sessionId: 'second', path: second, cache });
    expect(existsSync(first) || existsSync(cache.sessionGitDir('first'))).toBe(false);
  });

  it('collects what the agent changed as a patch that applies at the base and a list of the files', async () => {
    const path = join(root, 'w-edits');
    const branchesBefore = git(origin, 'for-each-ref', 'refs/heads');
    await prepareWorkspace({ sessionId: 'edits', path, repository: { url }, cache });
    await writeFile(join(path, 'new.txt'), 'a\nb\n');
    await writeFile(join(path, 'src', 'app.ts'), app.replace('return 1;', 'return 2;'));
    await rm(join(path, 'delete-me.txt'));
    // The agent commits part of it itself, in its own .git: what counts is the work tree.
    git(path, 'mv', 'old-name.txt', 'renamed.txt');
    git(path, 'commit', '--quiet', '-m', 'agent: rename');
    await writeFile(join(path, 'image.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 0, 255]));

    const collected = await collectArtifacts({ sessionId: 'edits', path, repository: { url }, cache, maxBytes: 1024 * 1024 });
    expect(collected.branch).toBeUndefined();
    for (const data of collected.artifacts) artifactDataSchema.parse(data);
    const changes = artifact(collected.artifacts, 'changes.json');
    expect(changes.media_type).toBe('application/json');
    const files = changedFileSchema.array().parse(JSON.parse(contentOf(changes).toString('utf8')));
    expect(files).toEqual([
      { path: 'delete-me.txt', status: 'deleted', additions: 0, deletions: 3 },
      { path: 'image.png', status: 'added', additions: 0, deletions: 0 },
      { path: 'new.txt', status: 'added', additions: 2, deletions: 0 },
      { path: 'renamed.txt', status: 'renamed', additions: 0, deletions: 0 },
      { path: 'src/app.ts', status: 'modified', additions: 1, deletions: 1 },
    ]);

    const patch = artifact(collected.artifacts, 'changes.patch');
    expect(patch.media_type).toBe('text/x-diff');
    expect(patch.truncated).toBeUndefined();
    const patchFile = join(root, 'edits.patch');
    await writeFile(patchFile, contentOf(patch));
    const fresh = join(root, 'fresh');
    git(root, 'clone', '--quiet', url, fresh);
    git(fresh, 'checkout', '--quiet', mainCommit);
    git(fresh, 'apply', '--check', patchFile);
    git(fresh, 'apply', '--index', patchFile);
    expect(git(fresh, 'write-tree')).toBe(git(cache.sessionGitDir('edits'), 'rev-parse', 'HEAD^{tree}'));
    expect(git(cache.sessionGitDir('edits'), 'rev-parse', BASE_REF)).toBe(mainCommit);

    // A node that restarted collects again: the same artifacts, no second commit.
    const again = await collectArtifacts({ sessionId: 'edits', path, repository: { url }, cache, maxBytes: 1024 * 1024 });
    expect(again.artifacts.map((data) => data.sha256)).toEqual(collected.artifacts.map((data) => data.sha256));
    expect(git(cache.sessionGitDir('edits'), 'rev-list', '--count', `${BASE_REF}..HEAD`)).toBe('1');
    expect(git(cache.sessionGitDir('edits'), 'log', '-1', '--format=%s')).toBe('mosaic: session edits');
    expect(git(origin, 'for-each-ref', 'refs/heads')).toBe(branchesBefore);
  });

  it('sends an empty patch when nothing changed', async () => {
    const path = join(root, 'w-idle');
    await prepareWorkspace({ sessionId: 'idle', path, repository: { url }, cache });
    const { artifacts } = await collectArtifacts({ sessionId: 'idle', path, repository: { url }, cache, maxBytes: 1024 });
    expect(artifact(artifacts, 'changes.patch').size).toBe(0);
    expect(JSON.parse(contentOf(artifact(artifacts, 'changes.json')).toString('utf8'))).toEqual([]);
    expect(git(cache.sessionGitDir('idle'), 'rev-parse', 'HEAD')).toBe(mainCommit);
  });

  it('pushes the branch when asked, once', async () => {
    const path = join(root, 'w-push');
    const repository = { url, push: true };
    await prepareWorkspace({ sessionId: 'push', path, repository, cache });
    await writeFile(join(path, 'pushed.txt'), 'pushed\n');
    const first = await collectArtifacts({ sessionId: 'push', path, repository, cache, maxBytes: 1024 });
    expect(first.branch).toBe('mosaic/push');
    expect(git(origin, 'rev-parse', 'mosaic/push')).toBe(git(cache.sessionGitDir('push'), 'rev-parse', 'HEAD'));
    expect(git(origin, 'show', 'mosaic/push:pushed.txt')).toBe('pushed');
    const second = await collectArtifacts({ sessionId: 'push', path, repository, cache, maxBytes: 1024 });
    expect(second.branch).toBe('mosaic/push');
    expect(git(origin, 'rev-list', '--count', `${mainCommit}..mosaic/push`)).toBe('1');
  });

  it('checks out a tag or a branch as the base, and refuses a ref the repository lacks', async () => {
    const tagged = join(root, 'w-tag');
    expect(await prepareWorkspace({ sessionId: 'tag', path: tagged, repository: { url, ref: 'v1' }, cache })).toMatchObject({
      base: tagCommit,
    });
    expect(git(tagged, 'rev-parse', 'HEAD')).toBe(tagCommit);
    expect(existsSync(join(tagged, 'src'))).toBe(false);
    const feature = join(root, 'w-feature');
    await prepareWorkspace({ sessionId: 'feature', path: feature, repository: { url, ref: 'feature' }, cache });
    expect(await readFile(join(feature, 'feature.txt'), 'utf8')).toBe('feature\n');
    expect(git(feature, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('mosaic/feature');
    await expect(
      prepareWorkspace({ sessionId: 'nope', path: join(root, 'w-nope'), repository: { url, ref: 'no-such' }, cache }),
    ).rejects.toThrow(/repository.ref "no-such"/);
  });

  it('cuts an artifact at maxBytes, whole size and the sent part hashed', async () => {
    const path = join(root, 'w-cut');
    await prepareWorkspace({ sessionId: 'cut', path, repository: { url }, cache });
    await writeFile(join(path, 'big.txt'), 'x'.repeat(10_000));
    const { artifacts } = await collectArtifacts({ sessionId: 'cut', path, repository: { url }, cache, maxBytes: 100 });
    const patch = artifact(artifacts, 'changes.patch');
    expect(patch.truncated).toBe(true);
    expect(patch.size).toBeGreaterThan(10_000);
    expect(contentOf(patch)).toHaveLength(100);
    expect(patch.sha256).toBe(createHash('sha256').update(contentOf(patch)).digest('hex'));
  });

  it('sends the regular files under out/ of a workspace without a repository, and nothing else', async () => {
    const path = join(root, 'w-plain');
    expect(await prepareWorkspace({ sessionId: 'plain', path, cache })).toEqual({});
    expect(readdirSync(path)).toEqual([]);
    await mkdir(join(path, 'out', 'nested', 'deeper'), { recursive: true });
    await writeFile(join(path, 'out', 'report.md'), '# report\n');
    await writeFile(join(path, 'out', 'nested', 'deeper', 'table.csv'), 'a,b\n1,2\n');
    await writeFile(join(path, 'out', 'nested', 'blob'), Buffer.alloc(300, 7));
    await writeFile(join(path, 'out', 'bad name.txt'), 'spaces\n');
    await writeFile(join(path, 'not-out.txt'), 'outside out/\n');
    await symlink('/etc/hostname', join(path, 'out', 'link.txt'));
    await symlink(root, join(path, 'out', 'linked-dir'));
    execFileSync('mkfifo', [join(path, 'out', 'pipe')]);

    const { artifacts, skipped, branch } = await collectArtifacts({ sessionId: 'plain', path, cache, maxBytes: 200 });
    expect(branch).toBeUndefined();
    for (const data of artifacts) artifactDataSchema.parse(data);
    expect(artifacts.map(({ name, media_type, size, truncated }) => ({ name, media_type, size, truncated }))).toEqual([
      { name: 'out/nested/blob', media_type: 'application/octet-stream', size: 300, truncated: true },
      { name: 'out/nested/deeper/table.csv', media_type: 'text/csv', size: 8, truncated: undefined },
      { name: 'out/report.md', media_type: 'text/markdown', size: 9, truncated: undefined },
    ]);
    expect(contentOf(artifact(artifacts, 'out/nested/blob'))).toEqual(Buffer.alloc(200, 7));
    expect(contentOf(artifact(artifacts, 'out/report.md')).toString()).toBe('# report\n');
    expect(skipped).toEqual(['out/bad name.txt: not a valid artifact name (path segments of letters, digits and . _ -)']);
  });

  it('sends nothing for a workspace without out/', async () => {
    const path = join(root, 'w-empty');
    await prepareWorkspace({ sessionId: 'empty', path, cache });
    expect(await collectArtifacts({ sessionId: 'empty', path, cache, maxBytes: 100 })).toEqual({ artifacts: [], skipped: [] });
  });

  it("gives the workspace to its owner, whose git reads the mirror's objects, and still collects from it", async () => {
    if (process.getuid?.() !== 0) return;
    const owner = { uid: 65534, gid: 65534 };
    const asOwner = { cwd: '', uid: owner.uid, gid: owner.gid, env: { PATH: process.env.PATH, HOME: '/tmp' }, encoding: 'utf8' as const };
    const path = join(root, 'w-owned');
    await chmod(root, 0o755);
    const agentsCache = await RepositoryCache.open({
      root: join(root, 'agents-cache'),
      readerGid: owner.gid,
      env: GIT_ENV,
      timeoutMs: 20_000,
    });
    // Made by a process that lets nobody else read what it creates: the mirror must be readable all the same.
    const umask = process.umask(0o077);
    try {
      await prepareWorkspace({ sessionId: 'owned', path, repository: { url }, cache: agentsCache, owner });
    } finally {
      process.umask(umask);
    }
    for (const file of [path, join(path, 'README.md'), join(path, '.git', 'config'), join(path, 'src', 'app.ts')])
      expect((await stat(file)).uid).toBe(65534);
    expect(execFileSync('git', ['log', '-1', '--format=%H'], { ...asOwner, cwd: path }).trim()).toBe(mainCommit);
    execFileSync('sh', ['-c', 'echo changed >> README.md && git commit --quiet -am agent'], { ...asOwner, cwd: path });
    expect(existsSync(agentsCache.sessionGitDir('owned'))).toBe(true);
    expect(() => execFileSync('ls', [agentsCache.sessionGitDir('owned')], { ...asOwner, stdio: 'ignore' })).toThrow();
    const { artifacts } = await collectArtifacts({ sessionId: 'owned', path, repository: { url }, cache: agentsCache, maxBytes: 4096 });
    expect(JSON.parse(contentOf(artifact(artifacts, 'changes.json')).toString())).toEqual([
      { path: 'README.md', status: 'modified', additions: 1, deletions: 0 },
    ]);
  });

  it('never runs the config or hooks the agent wrote into its .git', async () => {
    const path = join(root, 'w-hostile');
    const marker = join(root, 'hostile-ran');
    await prepareWorkspace({ sessionId: 'hostile', path, repository: { url }, cache });
    git(path, 'config', 'core.fsmonitor', `touch ${marker}; false`);
    git(path, 'config', 'filter.evil.clean', `touch ${marker}; cat`);
    await writeFile(join(path, '.gitattributes'), '* filter=evil\n');
    await writeFile(join(path, '.git', 'hooks', 'pre-commit'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    await writeFile(join(path, 'README.md'), '# changed\n');
    await collectArtifacts({ sessionId: 'hostile', path, repository: { url }, cache, maxBytes: 4096 });
    expect(existsSync(marker)).toBe(false);
  });

  it('clones a repository once when two caches (as two processes) prepare it at once, and takes over a stale lock', async () => {
    const shared = join(root, 'shared-cache');
    const options = { root: shared, env: GIT_ENV, timeoutMs: 20_000 };
    const [one, two] = await Promise.all([RepositoryCache.open(options), RepositoryCache.open(options)]);
    const results = await Promise.all([one.prepare(url), two.prepare(url), one.prepare(url)]);
    expect(results.map((result) => result.cloned).sort()).toEqual([false, false, true]);
    expect(readdirSync(shared).sort()).toEqual([`${one.mirrorPath(url).split('/').pop()}`, 'sessions']);

    const lock = one.mirrorPath(url).replace(/\.git$/, '.lock');
    await mkdir(lock);
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    expect(await one.prepare(url)).toEqual({ path: one.mirrorPath(url), cloned: false });
    expect(existsSync(lock)).toBe(false);
  });

  it('measures the disk a workspace takes', async () => {
    const path = join(root, 'w-bytes');
    await prepareWorkspace({ sessionId: 'bytes', path, cache });
    const empty = await workspaceBytes(path);
    await writeFile(join(path, 'one-mib'), Buffer.alloc(1024 * 1024, 1));
    expect(await workspaceBytes(path)).toBeGreaterThanOrEqual(empty + 1024 * 1024);
  });
});
