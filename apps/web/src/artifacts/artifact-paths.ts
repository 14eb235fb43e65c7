/** The artifacts the page shows as the session's changes (contract 7.2). */
export const CHANGES_PATCH = 'changes.patch';
export const CHANGES_JSON = 'changes.json';

export function artifactsPath(sessionId: string): string {
  return `/orchestrator/sessions/${encodeURIComponent(sessionId)}/artifacts`;
}

/** An artifact's content; a name such as `out/report.md` keeps its slashes, each segment encoded on its own. */
export function artifactPath(sessionId: string, name: string): string {
  return `${artifactsPath(sessionId)}/${name.split('/').map(encodeURIComponent).join('/')}`;
}

/** The name a download is saved under: the artifact's last path segment. */
export function fileNameOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}
