import { type Diff2HtmlConfig, html } from 'diff2html';

/** The most of a patch rendered: a diff of megabytes would freeze the page and help nobody read it. */
export const PATCH_RENDER_MAX_BYTES = 500 * 1024;

const CONFIG: Diff2HtmlConfig = {
  outputFormat: 'line-by-line',
  drawFileList: false,
  matching: 'none',
  // The library types its schemes as an enum it does not export from its entry point; 'auto' follows the reader's setting, as the page does.
  colorScheme: 'auto' as Diff2HtmlConfig['colorScheme'],
};

export interface CappedPatch {
  readonly text: string;
  /** Part of the patch was left out. */
  readonly cut: boolean;
}

/** The patch's first maxBytes (UTF-8), ended at its last whole line. */
export function capPatch(patch: string, maxBytes = PATCH_RENDER_MAX_BYTES): CappedPatch {
  const bytes = new TextEncoder().encode(patch);
  if (bytes.length <= maxBytes) return { text: patch, cut: false };
  const head = new TextDecoder().decode(bytes.subarray(0, maxBytes));
  return { text: head.slice(0, head.lastIndexOf('\n') + 1), cut: true };
}

/**
 * The patch as HTML, file by file, line by line. The library escapes every
 * text it takes from the patch (names, lines, hunk headers) before it goes
 * into its templates; patch-html.spec.ts holds it to that with a hostile patch.
 */
export function patchHtml(patch: string): string {
  return html(patch, CONFIG);
}
