import fc from 'fast-check';
import { canonicalJson, withSortedKeys } from './canonical-json';
import type { JsonValue } from './json';

const jsonValue = fc.jsonValue() as fc.Arbitrary<JsonValue>;

function reversedKeys(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(reversedKeys);
  return Object.fromEntries(
    Object.keys(value)
      .reverse()
      .map((key) => [key, reversedKeys(value[key] as JsonValue)]),
  );
}

describe('canonicalJson', () => {
  it('sorts keys at every depth, integer-like keys included, and keeps array order', () => {
    expect(canonicalJson({ b: [{ z: 1, a: 2 }, 3], a: null, 10: true, 9: 'x' })).toBe('{"10":true,"9":"x","a":null,"b":[{"a":2,"z":1},3]}');
  });

  it('says the same as JSON.stringify', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('leaves out undefined members, as JSON.stringify does', () => {
    expect(canonicalJson({ a: 1, b: undefined, c: [undefined] })).toBe(JSON.stringify({ a: 1, b: undefined, c: [undefined] }));
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(canonicalJson(reversedKeys(value))).toBe(canonicalJson(value));
      }),
    );
  });
});

describe('withSortedKeys', () => {
  it('gives JSON.stringify the same bytes whatever the insertion order, and the same value', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const sorted = JSON.stringify(withSortedKeys(value));
        expect(JSON.stringify(withSortedKeys(reversedKeys(value)))).toBe(sorted);
        expect(canonicalJson(JSON.parse(sorted) as JsonValue)).toBe(canonicalJson(value));
      }),
    );
  });
});
