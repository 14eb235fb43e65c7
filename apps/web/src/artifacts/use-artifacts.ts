import { useEffect, useState } from 'react';
import type { ArtifactList, ArtifactSummary } from '@mosaic/orchestrator-contract';
import { type ApiClient, isAbort, messageOf } from '../api/client';
import { artifactsPath } from './artifact-paths';

export interface ArtifactsState {
  /** null until the first list has come. */
  readonly artifacts: readonly ArtifactSummary[] | null;
  readonly error: string | null;
}

/** The session's artifacts, read again whenever `refreshKey` changes (an artifact event, the session's end). */
export function useArtifacts(client: ApiClient, sessionId: string, refreshKey: string): ArtifactsState {
  const [state, setState] = useState<ArtifactsState>({ artifacts: null, error: null });

  useEffect(() => {
    const controller = new AbortController();
    client
      .get<ArtifactList>(artifactsPath(sessionId), controller.signal)
      .then(({ artifacts }) => setState({ artifacts, error: null }))
      .catch((failure: unknown) => {
        // The list shown stays as it was; the failure is said beside it.
        if (!isAbort(failure)) setState((current) => ({ ...current, error: messageOf(failure) }));
      });
    return () => controller.abort();
  }, [client, sessionId, refreshKey]);

  return state;
}
