import type { z } from 'zod';

type Validated<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * Validates `input` against `schema` and, on failure, returns one message that
 * names every offending field by its JSON path (`task.title: ...`), so that a
 * caller can tell what to fix without reading our code.
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown): Validated<z.output<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, message: describeIssues(result.error.issues) };
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      if (unknownKeys.length > 0) {
        return unknownKeys.map((key) => `${formatPath([...issue.path, key])}: unknown field`).join('; ');
      }
      return `${formatPath(issue.path)}: ${issue.message}`;
    })
    .join('; ');
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'body';
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`)).join('');
}
