import { useEffect, useState } from 'react';
import type { ArtifactSummary } from '@mosaic/orchestrator-contract';
import { type ApiClient, isAbort, messageOf } from '../api/client';
import { artifactPath } from './artifact-paths';

export type Loaded<T> =
  { readonly state: 'loading' } | { readonly state: 'loaded'; readonly value: T } | { readonly state: 'failed'; readonly message: string };

/** An artifact's content as text, read again only when the artifact stored changes (its sha256). */
export function useArtifactText(client: ApiClient, sessionId: string, artifact: ArtifactSummary | undefined): Loaded<string> | undefined {
  const [loaded, setLoaded] = useState<{ readonly key: string; readonly text: Loaded<string> } | undefined>(undefined);
  const name = artifact?.name;
  const key = artifact === undefined ? undefined : `${artifact.name}|${artifact.sha256}`;

  useEffect(() => {
    if (name === undefined || key === undefined) return;
    const controller = new AbortController();
    client
      .blob(artifactPath(sessionId, name), controller.signal)
      .then((blob) => blob.text())
      .then((value) => setLoaded({ key, text: { state: 'loaded', value } }))
      .catch((failure: unknown) => {
        if (!isAbort(failure)) setLoaded({ key, text: { state: 'failed', message: messageOf(failure) } });
      });
    return () => controller.abort();
  }, [client, sessionId, name, key]);

  if (key === undefined) return undefined;
  // A text read for an earlier version of the artifact is not shown as this one's.
  return loaded?.key === key ? loaded.text : { state: 'loading' };
}
