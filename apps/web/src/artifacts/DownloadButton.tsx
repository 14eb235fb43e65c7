import { useState } from 'react';
import { type ApiClient, messageOf } from '../api/client';
import { artifactPath, fileNameOf } from './artifact-paths';
import { saveBlob } from './save-blob';

interface Props {
  readonly client: ApiClient;
  readonly sessionId: string;
  readonly name: string;
}

/**
 * Downloads an artifact. The API wants the operator's token in a header, which
 * a plain link cannot send (and a token in a URL would end up in histories and
 * logs): the content is fetched with it, then saved from an object URL.
 */
export function DownloadButton({ client, sessionId, name }: Props) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function download() {
    setBusy(true);
    setError(null);
    try {
      saveBlob(await client.blob(artifactPath(sessionId, name)), fileNameOf(name));
    } catch (failure) {
      setError(`Download failed: ${messageOf(failure)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <button type="button" className="link" disabled={busy} aria-label={`Download ${name}`} onClick={() => void download()}>
        {busy ? 'Downloading…' : 'Download'}
      </button>
      {error !== null && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}
