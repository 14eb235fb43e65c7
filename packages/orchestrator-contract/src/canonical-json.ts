import type { JsonValue } from './json';

/**
 * JSON with object keys sorted (by UTF-16 code units, as RFC 8785 does) at
 * every depth and no whitespace: equal values give equal bytes, whatever
 * order their keys were inserted in. Fit for hashing and comparing bodies.
 * Like `JSON.stringify`, it leaves out object members that are `undefined`.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
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
