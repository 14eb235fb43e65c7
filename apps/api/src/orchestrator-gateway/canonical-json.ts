import type { JsonValue } from '@mosaic/orchestrator-contract';

/**
 * JSON with object keys sorted (by UTF-16 code units, as RFC 8785 does) at
 * every depth and no whitespace: equal values give equal bytes, whatever
 * order their keys were inserted in. Fit for hashing and comparing bodies.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const members = Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`);
  return `{${members.join(',')}}`;
}

/**
 * A deep copy whose objects have their keys inserted in sorted order, so that
 * `JSON.stringify` of it (what axios sends) is as deterministic as
 * `canonicalJson`. Own `__proto__` keys stay data, never a prototype.
 */
export function withSortedKeys<T extends JsonValue>(value: T): T;
export function withSortedKeys(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(withSortedKeys);
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, withSortedKeys(value[key] as JsonValue)]),
  );
}
