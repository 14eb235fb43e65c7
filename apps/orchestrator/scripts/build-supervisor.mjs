// Compiles the per-session supervisor (supervisor/mosaic-supervisor.c) into
// dist/mosaic-supervisor; skipped while the binary is newer than its source.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const appRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(appRoot, 'supervisor', 'mosaic-supervisor.c');
const output = path.join(appRoot, 'dist', 'mosaic-supervisor');

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

const built = mtime(output);
if (built !== undefined && built > mtime(source)) process.exit(0);

const compiler = ['cc', 'gcc', 'clang'].find((candidate) => spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0);
if (!compiler) {
  console.error('build-supervisor: no C compiler found (tried cc, gcc, clang). Install one, e.g. on Debian/Ubuntu: apt-get install -y gcc');
  process.exit(1);
}

mkdirSync(path.dirname(output), { recursive: true });
const flags = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE'];
// Written aside and renamed over the old one: supervisors still running the old binary
// (agents outlive a deploy) keep it, where writing in place fails with ETXTBSY.
const fresh = `${output}.${process.pid}.tmp`;
// Static when the C library allows it: without the dynamic loader a supervisor starts a
// millisecond sooner, on every spawn.
const statically = spawnSync(compiler, [...flags, '-static', '-o', fresh, source], { stdio: ['ignore', 'ignore', 'pipe'] });
if (statically.status !== 0) execFileSync(compiler, [...flags, '-o', fresh, source], { stdio: 'inherit' });
renameSync(fresh, output);
