/** How long an object URL outlives its click: the browser reads it after the click's handler has returned. */
const REVOKE_AFTER_MS = 60_000;

/** Saves content the page already holds as a file, through a short-lived object URL. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}
