import { bearerToken, secretsEqual } from './bearer-token';

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.DEF-1_2~', 'abc.DEF-1_2~'],
    ['bearer xyz', 'xyz'],
    ['Bearer  padded==', 'padded=='],
  ])('reads %p', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearerabc', ['Bearer a']])(
    'refuses %p',
    (header) => {
      expect(bearerToken(header as string | undefined)).toBeUndefined();
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
