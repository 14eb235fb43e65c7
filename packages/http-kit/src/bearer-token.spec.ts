import { bearerToken, isBearerToken, secretsEqual } from './bearer-token';

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.DEF-1_2~', 'abc.DEF-1_2~'],
    ['bearer xyz', 'xyz'],
    ['BEARER xyz', 'xyz'],
    ['Bearer  padded==', 'padded=='],
    ['  Bearer trimmed  ', 'trimmed'],
  ])('reads %p', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearerabc', 'Bearer a=b', 'Bearer ä', ['Bearer a']])(
    'refuses %p',
    (header) => {
      expect(bearerToken(header)).toBeUndefined();
    },
  );
});

describe('secretsEqual', () => {
  it('is true only for the same secret', () => {
    expect(secretsEqual('s3cret', 's3cret')).toBe(true);
    expect(secretsEqual('s3cret', 's3creT')).toBe(false);
    expect(secretsEqual('s3cret', 's3cret-longer')).toBe(false);
    expect(secretsEqual('', 's3cret')).toBe(false);
  });
});

describe('isBearerToken', () => {
  it('accepts what a Bearer header can carry and nothing else', () => {
    for (const token of ['abc', 'A-b.c_d~e+f/g', 'padded==']) expect(isBearerToken(token)).toBe(true);
    for (const token of ['', ' abc', 'a b', 'a=b', 'p@ss', 'ä']) expect(isBearerToken(token)).toBe(false);
  });
});
