import { fingerprintOf } from './fingerprint';

describe('fingerprintOf', () => {
  it('does not depend on the order of object keys', () => {
    expect(fingerprintOf({ a: 1, b: { c: [1, { d: 2, e: 3 }] } })).toBe(fingerprintOf({ b: { c: [1, { e: 3, d: 2 }] }, a: 1 }));
  });

  it('tells different values apart, array order included', () => {
    expect(fingerprintOf({ a: [1, 2] })).not.toBe(fingerprintOf({ a: [2, 1] }));
    expect(fingerprintOf({ a: '1' })).not.toBe(fingerprintOf({ a: 1 }));
  });

  it('ignores undefined fields, as JSON does', () => {
    expect(fingerprintOf({ a: 1, b: undefined })).toBe(fingerprintOf({ a: 1 }));
  });
});
