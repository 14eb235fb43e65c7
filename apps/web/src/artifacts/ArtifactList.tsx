import type { ArtifactSummary } from '@mosaic/orchestrator-contract';
import type { ApiClient } from '../api/client';
import { formatBytes } from '../sessions/format';
import { DownloadButton } from './DownloadButton';

interface Props {
  readonly client: ApiClient;
  readonly sessionId: string;
  readonly artifacts: readonly ArtifactSummary[];
}

export function ArtifactList({ client, sessionId, artifacts }: Props) {
  return (
    <ul className="artifact-list">
      {artifacts.map((artifact) => (
        <li key={artifact.name} data-artifact={artifact.name}>
          <code className="artifact-name">{artifact.name}</code>
          <span className="muted">{formatBytes(artifact.size)}</span>
          {artifact.truncated && (
            <span className="truncated" title="Stored cut at the orchestrator's ARTIFACT_MAX_BYTES">
              truncated
            </span>
          )}
          <DownloadButton client={client} sessionId={sessionId} name={artifact.name} />
        </li>
      ))}
    </ul>
  );
}
