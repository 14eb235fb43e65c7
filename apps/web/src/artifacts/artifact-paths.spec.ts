import { artifactPath, artifactsPath, fileNameOf } from './artifact-paths';

describe('artifact paths', () => {
  const session = 'f3c1a2b4-0000-4000-8000-000000000001';

  it('lists a session’s artifacts', () => {
    expect(artifactsPath(session)).toBe(`/orchestrator/sessions/${session}/artifacts`);
  });

  it('keeps a name’s slashes as path segments', () => {
    expect(artifactPath(session, 'changes.patch')).toBe(`/orchestrator/sessions/${session}/artifacts/changes.patch`);
    expect(artifactPath(session, 'out/report.md')).toBe(`/orchestrator/sessions/${session}/artifacts/out/report.md`);
  });

  it('encodes each segment on its own, and the session id', () => {
    expect(artifactPath('a b', 'out/a b#1?.md')).toBe('/orchestrator/sessions/a%20b/artifacts/out/a%20b%231%3F.md');
    expect(artifactPath(session, 'out/%2F.txt')).toBe(`/orchestrator/sessions/${session}/artifacts/out/%252F.txt`);
  });

  it('saves a download under the name’s last segment', () => {
    expect(fileNameOf('out/reports/q4.md')).toBe('q4.md');
    expect(fileNameOf('changes.patch')).toBe('changes.patch');
  });
});
