import fc from 'fast-check';
import { MAX_JSON_DEPTH, jsonEncodedBytes, jsonEncodedPrefix, jsonStorageProblem, toStorableText, unstorableText } from './json';

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
}

describe('unstorableText', () => {
  it.each([
    ['a\u0000b', 'NUL'],
    ['\uD800', 'unpaired'],
    ['x\uDC00', 'unpaired'],
    ['\uDC00\uD800', 'unpaired'],
  ])('refuses %j (%s)', (text, why) => {
    expect(unstorableText(text)).toContain(why);
  });

  it('accepts every well-formed string without NUL', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(unstorableText(text.replaceAll('\u0000', ''))).toBeUndefined();
      }),
    );
  });
});

describe('jsonStorageProblem', () => {
  it('accepts JSON up to the depth limit and names the path past it', () => {
    expect(jsonStorageProblem(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(jsonStorageProblem(nested(MAX_JSON_DEPTH + 1))).toMatch(/^a(\.a)* nests deeper than 32 levels$/);
  });

  it('answers for 50,000 levels without running out of stack', () => {
    expect(jsonStorageProblem(nested(50_000))).toContain('nests deeper');
  });

  it('finds a NUL or an unpaired surrogate in keys and values, at any depth, inside arrays', () => {
    expect(jsonStorageProblem({ steps: [{ run: 'ok' }, { run: 'a\u0000' }] })).toBe('steps[1].run contains a NUL character');
    expect(jsonStorageProblem({ ['k\uD800']: 1 })).toContain('a key of value is not well-formed');
    expect(jsonStorageProblem({ repo: 'mosaic', n: 1, ok: true, none: null })).toBeUndefined();
  });
});

describe('toStorableText', () => {
  it('replaces NUL and unpaired surrogates, and only those, with U+FFFD', () => {
    expect(toStorableText('a\u0000b\uD800c\uDC00\uD83E\uDD8A')).toBe('a\uFFFDb\uFFFDc\uFFFD\uD83E\uDD8A');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const storable = toStorableText(text);
        expect(unstorableText(storable)).toBeUndefined();
        expect(storable).toHaveLength(text.length);
        if (unstorableText(text) === undefined) expect(storable).toBe(text);
      }),
    );
  });
});

describe('jsonEncodedBytes', () => {
  it('is the UTF-8 size of JSON.stringify, quotes left out, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(jsonEncodedBytes(text)).toBe(Buffer.byteLength(JSON.stringify(text)) - 2);
      }),
    );
  });

  it('counts six bytes for a control character and for an unpaired surrogate', () => {
    expect(jsonEncodedBytes('\u0001\uD800')).toBe(12);
    expect(jsonEncodedBytes('\n"\\')).toBe(6);
    expect(jsonEncodedBytes('é€🦊')).toBe(9);
  });
});

describe('jsonEncodedPrefix', () => {
  it('is the longest start that fits, never splitting a surrogate pair', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.nat(400), (text, maxBytes) => {
        const prefix = jsonEncodedPrefix(text, maxBytes);
        expect(text.startsWith(prefix.text)).toBe(true);
        expect(prefix.bytes).toBe(jsonEncodedBytes(prefix.text));
        expect(prefix.bytes).toBeLessThanOrEqual(maxBytes);
        const next = text.slice(prefix.text.length);
        if (next !== '') expect(prefix.bytes + jsonEncodedBytes(String.fromCodePoint(next.codePointAt(0)!))).toBeGreaterThan(maxBytes);
      }),
    );
    expect(jsonEncodedPrefix('🦊🦊', 7)).toEqual({ text: '🦊', bytes: 4 });
  });
});
