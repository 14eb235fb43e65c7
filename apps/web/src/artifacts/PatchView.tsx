import { useMemo } from 'react';
import { formatBytes } from '../sessions/format';
import { capPatch, PATCH_RENDER_MAX_BYTES, patchHtml } from './patch-html';
import './patch.css';

interface Props {
  readonly patch: string;
  /** The API stored only the patch's beginning. */
  readonly truncated: boolean;
}

type Rendered = { readonly html: string } | { readonly failed: string };

/** `changes.patch` as a diff, file by file; what the library cannot read is shown as plain text. */
export function PatchView({ patch, truncated }: Props) {
  const capped = useMemo(() => capPatch(patch), [patch]);
  const rendered = useMemo((): Rendered => {
    try {
      return { html: patchHtml(capped.text) };
    } catch (failure) {
      return { failed: failure instanceof Error ? failure.message : String(failure) };
    }
  }, [capped]);

  if (patch.trim() === '') return <p className="muted">The agent changed nothing.</p>;
  return (
    <>
      {truncated && <p className="muted">The patch was cut when stored: only its beginning is shown.</p>}
      {capped.cut && (
        <p className="muted">Only the first {formatBytes(PATCH_RENDER_MAX_BYTES)} of the patch are shown: download it for the rest.</p>
      )}
      {'html' in rendered ? (
        // The library's HTML, every text from the patch escaped in it (patch-html.ts); the page's CSP allows no inline script either.
        <div className="patch" role="region" aria-label="Diff" tabIndex={0} dangerouslySetInnerHTML={{ __html: rendered.html }} />
      ) : (
        <>
          <p className="muted">The patch could not be shown as a diff ({rendered.failed}):</p>
          <pre className="patch patch-raw" role="region" aria-label="Diff" tabIndex={0}>
            {capped.text}
          </pre>
        </>
      )}
    </>
  );
}
