import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionWorkdir, prepareWorkdirRoot } from './workdir';

const NOBODY = { uid: 65_534, gid: 65_534 };
const asRoot = process.getuid?.() === 0;
const modeOf = (path: string) => lstatSync(path).mode & 0o777;

describe('the session work directories', () => {
  let scratch: string;
  beforeEach(() => (scratch = mkdtempSync(join(tmpdir(), 'workdir-spec-'))));
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  describe('prepareWorkdirRoot', () => {
    it('creates a missing root, and its parents, private to this user', async () => {
      const root = join(scratch, 'a', 'sessions');
      await prepareWorkdirRoot(root, undefined);
      expect(modeOf(root)).toBe(0o700);
      expect(lstatSync(root).uid).toBe(process.getuid?.());
    });

    it('takes an existing private root of this user', async () => {
      const root = join(scratch, 'sessions');
      mkdirSync(root, { mode: 0o700 });
      await expect(prepareWorkdirRoot(root, undefined)).resolves.toBeUndefined();
    });

    it('refuses a symbolic link, even to a private directory of this user', async () => {
      const target = join(scratch, 'target');
      mkdirSync(target, { mode: 0o700 });
      const root = join(scratch, 'sessions');
      symlinkSync(target, root);
      await expect(prepareWorkdirRoot(root, undefined)).rejects.toThrow(`SESSION_WORKDIR_ROOT=${JSON.stringify(root)}: is a symbolic link`);
    });

    it('refuses something that is not a directory', async () => {
      const root = join(scratch, 'sessions');
      writeFileSync(root, '');
      await expect(prepareWorkdirRoot(root, undefined)).rejects.toThrow(/^SESSION_WORKDIR_ROOT=.*: is not a directory$/);
    });

    it.each(['755', '770', '701', '750', '720'])('refuses a root open to other users (mode %s)', async (mode) => {
      const root = join(scratch, 'sessions');
      mkdirSync(root);
      chmodSync(root, Number.parseInt(mode, 8));
      await expect(prepareWorkdirRoot(root, undefined)).rejects.toThrow(/^SESSION_WORKDIR_ROOT=.*: is open to other users/);
    });

    (asRoot ? it : it.skip)('refuses a root that belongs to another user (one planted in the shared temp directory)', async () => {
      const root = join(scratch, 'sessions');
      mkdirSync(root, { mode: 0o700 });
      chownSync(root, NOBODY.uid, NOBODY.gid);
      await expect(prepareWorkdirRoot(root, undefined)).rejects.toThrow(
        /^SESSION_WORKDIR_ROOT=.*: belongs to uid 65534, not to this process's uid 0$/,
      );
    });

    (asRoot ? it : it.skip)("lets the agent user's group enter it (0710), and no one list it", async () => {
      const root = join(scratch, 'sessions');
      await prepareWorkdirRoot(root, NOBODY);
      expect(modeOf(root)).toBe(0o710);
      expect(lstatSync(root)).toMatchObject({ uid: 0, gid: NOBODY.gid });
      // And back to private once agents run as this user again.
      await prepareWorkdirRoot(root, undefined);
      expect(modeOf(root)).toBe(0o700);
    });
  });

  describe('createSessionWorkdir', () => {
    it('writes the task file, private, in a private directory', async () => {
      const workdir = join(scratch, 'session-1');
      const taskFile = await createSessionWorkdir(workdir, '{"task":1}', undefined);
      expect(taskFile).toBe(join(workdir, 'task.json'));
      expect(readFileSync(taskFile, 'utf8')).toBe('{"task":1}');
      expect(modeOf(workdir)).toBe(0o700);
      expect(modeOf(taskFile)).toBe(0o600);
    });

    it('follows nothing planted at its place: a symlinked task file in an existing directory is refused, its target untouched', async () => {
      const target = join(scratch, 'precious');
      writeFileSync(target, 'keep me');
      const workdir = join(scratch, 'session-2');
      mkdirSync(workdir);
      symlinkSync(target, join(workdir, 'task.json'));
      await expect(createSessionWorkdir(workdir, '{"task":2}', undefined)).rejects.toMatchObject({ code: 'EEXIST' });
      expect(readFileSync(target, 'utf8')).toBe('keep me');
    });

    (asRoot ? it : it.skip)('gives the directory and the task file to the agent user', async () => {
      const workdir = join(scratch, 'session-3');
      const taskFile = await createSessionWorkdir(workdir, '{}', NOBODY);
      expect(lstatSync(workdir)).toMatchObject({ uid: NOBODY.uid, gid: NOBODY.gid });
      expect(lstatSync(taskFile)).toMatchObject({ uid: NOBODY.uid, gid: NOBODY.gid });
      expect(modeOf(workdir)).toBe(0o700);
      expect(modeOf(taskFile)).toBe(0o600);
    });
  });
});
