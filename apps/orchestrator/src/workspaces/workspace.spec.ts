import { branchOf, isAllowedRepositoryUrl } from './workspace';

describe('isAllowedRepositoryUrl', () => {
  it('takes any file://, https:// or ssh:// URL when no prefix is set', () => {
    for (const url of ['file:///srv/repo.git', 'https://git.example/team/app.git', 'ssh://git@git.example/team/app.git'])
      expect(isAllowedRepositoryUrl(url, undefined)).toBe(true);
    for (const url of ['http://git.example/app.git', 'ext::sh -c x', 'git://git.example/app.git', 'not a url'])
      expect(isAllowedRepositoryUrl(url, undefined)).toBe(false);
  });

  it('takes only URLs under a prefix, at a path boundary, written canonically', () => {
    const prefixes = ['https://git.example/team', 'file:///srv/repos/'];
    expect(isAllowedRepositoryUrl('https://git.example/team/app.git', prefixes)).toBe(true);
    expect(isAllowedRepositoryUrl('https://git.example/team', prefixes)).toBe(true);
    expect(isAllowedRepositoryUrl('file:///srv/repos/app.git', prefixes)).toBe(true);
    for (const url of [
      'https://git.example/team-b/app.git',
      'https://git.example/team@elsewhere/app.git',
      'https://git.example/team/../other/app.git',
      'https://git.example/team/%2e%2e/other/app.git',
      'https://git.example/other/app.git',
      'file:///srv/repos/../secret.git',
      'ssh://git.example/team/app.git',
    ])
      expect(isAllowedRepositoryUrl(url, prefixes)).toBe(false);
    expect(isAllowedRepositoryUrl('https://git.example/team/app.git', [])).toBe(false);
  });
});

describe('branchOf', () => {
  it('names the session branch, and refuses an id that is not a plain name', () => {
    expect(branchOf('0b7c5f2e-1c1d-4a53-9d1e-8f6a2f0c4b11')).toBe('mosaic/0b7c5f2e-1c1d-4a53-9d1e-8f6a2f0c4b11');
    for (const id of ['', '-x', '../x', 'a/b', 'a b']) expect(() => branchOf(id)).toThrow(/session id/);
  });
});
