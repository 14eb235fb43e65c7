import type { ReactNode } from 'react';
import type { ApiClient } from '../api/client';
import { ArtifactList } from './ArtifactList';
import { CHANGES_JSON, CHANGES_PATCH } from './artifact-paths';
import { ChangesSummary } from './ChangesSummary';
import { PatchView } from './PatchView';
import { type Loaded, useArtifactText } from './use-artifact-text';
import { useArtifacts } from './use-artifacts';

interface Props {
  readonly client: ApiClient;
  readonly sessionId: string;
  /** Changes when the list may have: an artifact event came, or the session ended. */
  readonly refreshKey: string;
}

/** What the session's agent produced: the list to download from, and its changes to a repository as a diff. */
export function Artifacts({ client, sessionId, refreshKey }: Props) {
  const { artifacts, error } = useArtifacts(client, sessionId, refreshKey);
  const patch = artifacts?.find((artifact) => artifact.name === CHANGES_PATCH);
  const json = artifacts?.find((artifact) => artifact.name === CHANGES_JSON);
  const patchText = useArtifactText(client, sessionId, patch);
  const jsonText = useArtifactText(client, sessionId, json);

  return (
    <section className="artifacts" aria-labelledby="artifacts-heading">
      <h3 id="artifacts-heading">Artifacts</h3>
      {error !== null && <p className="error">Could not load the artifacts: {error}</p>}
      {artifacts === null ? (
        error === null && <p className="muted">Loading…</p>
      ) : artifacts.length === 0 ? (
        <p className="muted">No artifacts.</p>
      ) : (
        <ArtifactList client={client} sessionId={sessionId} artifacts={artifacts} />
      )}
      {(jsonText !== undefined || patchText !== undefined) && <h4>Changes</h4>}
      {jsonText !== undefined && <Loading name={CHANGES_JSON} text={jsonText} render={(value) => <ChangesSummary json={value} />} />}
      {patchText !== undefined && (
        <Loading
          name={CHANGES_PATCH}
          text={patchText}
          render={(value) => <PatchView patch={value} truncated={patch?.truncated === true} />}
        />
      )}
    </section>
  );
}

function Loading({
  name,
  text,
  render,
}: {
  readonly name: string;
  readonly text: Loaded<string>;
  readonly render: (value: string) => ReactNode;
}) {
  if (text.state === 'loading') return <p className="muted">Loading {name}…</p>;
  if (text.state === 'failed')
    return (
      <p className="error">
        Could not load {name}: {text.message}
      </p>
    );
  return render(text.value);
}
