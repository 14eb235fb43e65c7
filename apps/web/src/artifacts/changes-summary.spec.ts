import type { ChangedFile } from '@mosaic/orchestrator-contract';
import { describeCounts, describeTotals, parseChanges } from './changes-summary';

describe('changes.json', () => {
  const files: ChangedFile[] = [
    { path: 'src/app.ts', status: 'modified', additions: 12, deletions: 3 },
    { path: 'docs/new.md', status: 'added', additions: 40, deletions: 0 },
    { path: 'old.txt', status: 'deleted', additions: 0, deletions: 7 },
  ];

  it('reads the list of changed files', () => {
    expect(parseChanges(JSON.stringify(files))).toEqual(files);
    expect(parseChanges('[]')).toEqual([]);
  });

  it('refuses anything else', () => {
    expect(parseChanges('not json')).toBeNull();
    expect(parseChanges('{"path":"a"}')).toBeNull();
    expect(parseChanges(JSON.stringify([{ ...files[0], status: 'copied' }]))).toBeNull();
    expect(parseChanges(JSON.stringify([{ ...files[0], additions: -1 }]))).toBeNull();
    expect(parseChanges(JSON.stringify([{ ...files[0], deletions: 1.5 }]))).toBeNull();
    expect(parseChanges(JSON.stringify([{ ...files[0], path: 3 }]))).toBeNull();
    expect(parseChanges(JSON.stringify([null]))).toBeNull();
  });

  it('sums the lines added and removed', () => {
    expect(describeTotals(files)).toBe('3 files changed · +52 −10');
    expect(describeTotals(files.slice(0, 1))).toBe('1 file changed · +12 −3');
    expect(describeTotals([])).toBe('0 files changed · +0 −0');
  });

  it('describes one file’s counts', () => {
    expect(describeCounts({ additions: 12, deletions: 3 })).toBe('+12 −3');
  });
});
