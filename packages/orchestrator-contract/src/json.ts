/** A JSON value as it travels on the wire (task metadata, a callback's `data`). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** How deep a JSON document taken in for storage may nest: far beyond any real metadata, and well within the stack. */
export const MAX_JSON_DEPTH = 32;

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

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
