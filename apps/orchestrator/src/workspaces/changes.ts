import type { ChangedFile } from '@mosaic/orchestrator-contract';

const STATUSES: Readonly<Record<string, ChangedFile['status']>> = {
  A: 'added',
  M: 'modified',
  D: 'deleted',
  R: 'renamed',
  // A file that became a symlink (or back) is the same path changed.
  T: 'modified',
};

/**
 * `changes.json`'s entries from `git diff -z -M --name-status` and `git diff -z -M --numstat` of the same two
 * commits: one per changed path (a rename's new path), in git's order. Binary files count 0 lines.
 */
export function changedFiles(nameStatus: string, numstat: string): ChangedFile[] {
  const lines = lineCounts(numstat);
  const fields = nameStatus.split('\0');
  const files: ChangedFile[] = [];
  for (let i = 0; i + 1 < fields.length;) {
    const code = fields[i]!;
    const status = STATUSES[code.charAt(0)];
    if (status === undefined) throw new Error(`git diff --name-status: unexpected status ${JSON.stringify(code)}`);
    // A rename names its old path, then its new one.
    const path = status === 'renamed' ? fields[i + 2]! : fields[i + 1]!;
    i += status === 'renamed' ? 3 : 2;
    const counts = lines.get(path) ?? { additions: 0, deletions: 0 };
    files.push({ path, status, ...counts });
  }
  return files;
}

/** By (new) path: `<added>\t<deleted>\t<path>\0`, or `<added>\t<deleted>\t\0<old>\0<new>\0` for a rename; `-` for binary. */
function lineCounts(numstat: string): Map<string, { additions: number; deletions: number }> {
  const counts = new Map<string, { additions: number; deletions: number }>();
  const fields = numstat.split('\0');
  for (let i = 0; i < fields.length;) {
    const match = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(fields[i]!);
    if (match === null) {
      i += 1;
      continue;
    }
    const renamed = match[3] === '';
    const path = renamed ? fields[i + 2]! : match[3]!;
    i += renamed ? 3 : 1;
    counts.set(path, { additions: count(match[1]!), deletions: count(match[2]!) });
  }
  return counts;
}

function count(field: string): number {
  return field === '-' ? 0 : Number(field);
}
