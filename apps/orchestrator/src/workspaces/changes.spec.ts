import { changedFiles } from './changes';

describe('changedFiles', () => {
  it('joins name-status and numstat by path, renames by their new path, binary files at 0 lines', () => {
    const nameStatus = [
      'D',
      'gone.txt',
      'A',
      'image.png',
      'M',
      'src/app.ts',
      'R087',
      'old name.txt',
      'new\tname.txt',
      'T',
      'link',
      '',
    ].join('\0');
    const numstat = [
      '0\t3\tgone.txt',
      '-\t-\timage.png',
      '12\t4\tsrc/app.ts',
      '1\t1\t',
      'old name.txt',
      'new\tname.txt',
      '1\t1\tlink',
      '',
    ].join('\0');
    expect(changedFiles(nameStatus, numstat)).toEqual([
      { path: 'gone.txt', status: 'deleted', additions: 0, deletions: 3 },
      { path: 'image.png', status: 'added', additions: 0, deletions: 0 },
      { path: 'src/app.ts', status: 'modified', additions: 12, deletions: 4 },
      { path: 'new\tname.txt', status: 'renamed', additions: 1, deletions: 1 },
      { path: 'link', status: 'modified', additions: 1, deletions: 1 },
    ]);
  });

  it('is empty when nothing changed', () => {
    expect(changedFiles('', '')).toEqual([]);
  });

  it('refuses a status it does not know', () => {
    expect(() => changedFiles('X\0weird\0', '')).toThrow(/unexpected status "X"/);
  });
});
