import fc from 'fast-check';
import { MAX_JSON_DEPTH, jsonStorageProblem, unstorableText } from './json';

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
