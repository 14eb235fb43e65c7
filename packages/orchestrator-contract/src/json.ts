/** A JSON value as it travels on the wire (task metadata, a callback's `data`). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** How deep a JSON document taken in for storage may nest: far beyond any real metadata, and well within the stack. */
export const MAX_JSON_DEPTH = 32;

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE = new RegExp(`\u0000|${UNPAIRED_SURROGATE.source}`, 'g');

/** Whether `value` nests deeper than `maxDepth`; walks iteratively, so a hostile depth costs no stack. */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.value === null || typeof next.value !== 'object') continue;
    if (next.depth >= maxDepth) return true;
    for (const item of Object.values(next.value)) pending.push({ value: item, depth: next.depth + 1 });
  }
  return false;
}

/**
 * Why PostgreSQL would refuse `text` in a text or jsonb column, if it would:
 * it stores neither NUL nor an unpaired UTF-16 surrogate (which has no UTF-8 form).
 */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character';
  if (UNPAIRED_SURROGATE.test(text)) return 'is not well-formed Unicode (an unpaired surrogate)';
  return undefined;
}

/** `text` with what `unstorableText` refuses (NUL, unpaired surrogates) replaced by U+FFFD, the replacement character. */
export function toStorableText(text: string): string {
  return text.replace(UNSTORABLE, '\uFFFD');
}

/**
 * The UTF-8 bytes one code point of a string takes in `JSON.stringify`'s
 * output: control characters, quote and backslash are escaped, and so is an
 * unpaired surrogate (`\uD800`, six bytes).
 */
function jsonEncodedCodePointBytes(codePoint: number): number {
  if (
    codePoint === 0x22 ||
    codePoint === 0x5c ||
    codePoint === 0x08 ||
    codePoint === 0x09 ||
    codePoint === 0x0a ||
    codePoint === 0x0c ||
    codePoint === 0x0d
  )
    return 2;
  if (codePoint < 0x20) return 6;
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 6;
  if (codePoint < 0x10000) return 3;
  return 4;
}

/** What `text` adds to a JSON body in UTF-8: the size of its JSON string literal without the quotes. */
export function jsonEncodedBytes(text: string): number {
  return jsonEncodedPrefix(text, Number.POSITIVE_INFINITY).bytes;
}

/**
 * The longest start of `text` whose JSON encoding fits in `maxBytes`, cut
 * between code points, so a surrogate pair is never split, with its size.
 */
export function jsonEncodedPrefix(text: string, maxBytes: number): { text: string; bytes: number } {
  let bytes = 0;
  let length = 0;
  // Iterating a string visits code points: a surrogate pair comes whole, an unpaired surrogate alone.
  for (const character of text) {
    const size = jsonEncodedCodePointBytes(character.codePointAt(0)!);
    if (bytes + size > maxBytes) return { text: text.slice(0, length), bytes };
    bytes += size;
    length += character.length;
  }
  return { text, bytes };
}

/**
 * The first reason `value` cannot be stored as jsonb, with the path where it
 * is: nested deeper than `maxDepth`, or a key or string `unstorableText`
 * refuses. Walks iteratively, so a hostile depth costs no stack.
 */
export function jsonStorageProblem(value: unknown, maxDepth: number = MAX_JSON_DEPTH): string | undefined {
  const pending: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, path, depth } = next;
    if (typeof current === 'string') {
      const problem = unstorableText(current);
      if (problem !== undefined) return `${path || 'value'} ${problem}`;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return `${path || 'value'} nests deeper than ${maxDepth} levels`;
    for (const [key, item] of Object.entries(current)) {
      const keyProblem = unstorableText(key);
      if (keyProblem !== undefined) return `a key of ${path || 'value'} ${keyProblem}`;
      pending.push({ value: item, path: Array.isArray(current) ? `${path}[${key}]` : path ? `${path}.${key}` : key, depth: depth + 1 });
    }
  }
  return undefined;
}
