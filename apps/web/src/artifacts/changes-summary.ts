import type { ChangedFile } from '@mosaic/orchestrator-contract';

const STATUSES: readonly string[] = ['added', 'modified', 'deleted', 'renamed'] satisfies readonly ChangedFile['status'][];

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function isChangedFile(value: unknown): value is ChangedFile {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.path === 'string' &&
    typeof entry.status === 'string' &&
    STATUSES.includes(entry.status) &&
    isCount(entry.additions) &&
    isCount(entry.deletions)
  );
}

/** `changes.json`'s entries, or null when it is not that list: the page checks it by hand, keeping zod out of its bundle. */
export function parseChanges(text: string): readonly ChangedFile[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return Array.isArray(value) && value.every(isChangedFile) ? value : null;
}

export function describeCounts({ additions, deletions }: { readonly additions: number; readonly deletions: number }): string {
  return `+${additions} −${deletions}`;
}

export function describeTotals(files: readonly ChangedFile[]): string {
  const additions = files.reduce((sum, file) => sum + file.additions, 0);
  const deletions = files.reduce((sum, file) => sum + file.deletions, 0);
  return `${files.length} ${files.length === 1 ? 'file' : 'files'} changed · ${describeCounts({ additions, deletions })}`;
}
