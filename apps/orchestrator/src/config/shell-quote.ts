/** A word as the POSIX shell reads it back unchanged: single-quoted, its own single quotes closed and escaped. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
