import { ConfigurationError } from './environment';
import { refuseDevelopmentSecrets } from './production-secrets';

const DEV = 'dev-value-change-me';
const STRONG = 'Kq7-vR2x_Lm9.Zt4~Wp8+Hs3/Jd6Nc5y';
const secret = (value: string | undefined) => [{ name: 'SOME_TOKEN', value, developmentValue: DEV }];

describe('refuseDevelopmentSecrets', () => {
  const production = { NODE_ENV: 'production' };

  it.each([
    [undefined, 'SOME_TOKEN is not set'],
    [DEV, 'SOME_TOKEN is the development value'],
    ['k'.repeat(31), 'SOME_TOKEN is shorter than 32 characters'],
    ['a'.repeat(32), 'SOME_TOKEN has fewer than 10 distinct characters'],
    ['abcdefghi'.repeat(4), 'SOME_TOKEN has fewer than 10 distinct characters'],
  ])('refuses %p in production, naming the variable and why', (value, why) => {
    expect(() => refuseDevelopmentSecrets(production, secret(value))).toThrow(ConfigurationError);
    expect(() => refuseDevelopmentSecrets(production, secret(value))).toThrow(why);
  });

  it('never shows the value it refuses', () => {
    const short = 'short-but-secret';
    expect(() => refuseDevelopmentSecrets(production, secret(short))).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(short) }),
    );
  });

  it('names every bad secret in one message', () => {
    const secrets = [...secret(undefined), { name: 'OTHER_KEY', value: DEV, developmentValue: DEV }];
    expect(() => refuseDevelopmentSecrets(production, secrets)).toThrow(/SOME_TOKEN is not set; OTHER_KEY is the development value/);
  });

  it('accepts a secret of 32 characters or more, 10 of them distinct, in production', () => {
    expect(() => refuseDevelopmentSecrets(production, secret(STRONG))).not.toThrow();
    expect(() => refuseDevelopmentSecrets(production, secret('abcdefghij'.repeat(4)))).not.toThrow();
  });

  it.each([{}, { NODE_ENV: 'development' }, { NODE_ENV: 'test' }])(
    'leaves %p alone: development values are allowed there',
    (environment) => {
      expect(() => refuseDevelopmentSecrets(environment, secret(undefined))).not.toThrow();
      expect(() => refuseDevelopmentSecrets(environment, secret(DEV))).not.toThrow();
    },
  );
});
