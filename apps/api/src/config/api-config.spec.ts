import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '@mosaic/http-kit';
import { ApiConfig, DEVELOPMENT_MOSAIC_API_TOKEN } from './api-config';

describe('ApiConfig.fromEnvironment', () => {
  it('applies the contract defaults', () => {
    const config = ApiConfig.fromEnvironment({});
    expect(config.port).toBe(3000);
    expect(config.orchestrator.urls).toEqual(['http://127.0.0.1:3100']);
    expect(config.publicBaseUrl).toBe('http://127.0.0.1:3000');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.mosaicApiToken).toBe(DEVELOPMENT_MOSAIC_API_TOKEN);
    expect(config.developmentDefaults).toEqual(['ORCHESTRATOR_API_KEY', 'MOSAIC_API_TOKEN', 'CALLBACK_SIGNING_KEY']);
  });

  it('takes ARTIFACT_MAX_BYTES, 5 MiB by default, and stops on a size it cannot hold', () => {
    expect(ApiConfig.fromEnvironment({}).artifactMaxBytes).toBe(5 * 1024 * 1024);
    expect(ApiConfig.fromEnvironment({ ARTIFACT_MAX_BYTES: '1048576' }).artifactMaxBytes).toBe(1024 * 1024);
    for (const value of ['0', '5MiB', String(1024 * 1024 * 1024)]) {
      expect(() => ApiConfig.fromEnvironment({ ARTIFACT_MAX_BYTES: value })).toThrow('ARTIFACT_MAX_BYTES');
    }
  });

  it('derives PUBLIC_BASE_URL from PORT and drops trailing slashes from URLs', () => {
    const config = ApiConfig.fromEnvironment({ PORT: '4000', ORCHESTRATOR_URL: 'http://orch:9/' });
    expect(config.publicBaseUrl).toBe('http://127.0.0.1:4000');
    expect(config.orchestrator.urls).toEqual(['http://orch:9']);
    expect(config.callbackUrl('a b')).toBe('http://127.0.0.1:4000/orchestrator/callbacks/a%20b');
  });

  it('takes several comma-separated orchestrator nodes, in order', () => {
    const config = ApiConfig.fromEnvironment({ ORCHESTRATOR_URL: 'http://node-a:3100/, https://node-b:3101' });
    expect(config.orchestrator.urls).toEqual(['http://node-a:3100', 'https://node-b:3101']);
  });

  it.each(['http://node-a:3100,not a url', 'http://node-a:3100,', 'http://node-a:3100,ftp://node-b'])(
    'stops when one of several ORCHESTRATOR_URL entries is not an http URL (%p), naming the variable',
    (value) => {
      expect(() => ApiConfig.fromEnvironment({ ORCHESTRATOR_URL: value })).toThrow(ConfigurationError);
      expect(() => ApiConfig.fromEnvironment({ ORCHESTRATOR_URL: value })).toThrow('ORCHESTRATOR_URL');
    },
  );

  it('derives how long a dispatch can keep trying one spawn', () => {
    const config = ApiConfig.fromEnvironment({
      ORCHESTRATOR_RETRY_ATTEMPTS: '2',
      ORCHESTRATOR_SPAWN_TIMEOUT_MS: '1000',
      ORCHESTRATOR_RETRY_MAX_DELAY_MS: '300',
    });
    expect(config.orchestrator.spawnDeadlineMs).toBe(3 * 1000 + 2 * 300);
  });

  it('accepts 0 as a number, not as missing', () => {
    expect(ApiConfig.fromEnvironment({ ORCHESTRATOR_RETRY_ATTEMPTS: '0' }).orchestrator.retry.attempts).toBe(0);
  });

  it.each([
    ['PORT', 'abc'],
    ['ORCHESTRATOR_URL', 'not a url'],
    ['DATABASE_URL', 'http://wrong-scheme'],
    ['CALLBACK_TOKEN_TTL_MS', '-5'],
  ])('stops on a wrong %s and names it', (name, value) => {
    expect(() => ApiConfig.fromEnvironment({ [name]: value })).toThrow(ConfigurationError);
    expect(() => ApiConfig.fromEnvironment({ [name]: value })).toThrow(name);
  });

  it.each(['PORT', 'DATABASE_URL', 'MOSAIC_API_TOKEN'])('treats an empty %s as a wrong value, not as unset', (name) => {
    expect(() => ApiConfig.fromEnvironment({ [name]: '' })).toThrow(name);
  });

  it.each([
    ['DATABASE_URL', 'mysql://mosaic:hunter2-password@db.internal/mosaic'],
    ['ORCHESTRATOR_URL', 'http://127.0.0.1:3100,redis://key:hunter2-password@10.0.0.7'],
    ['PUBLIC_BASE_URL', 'ftp://mosaic:hunter2-password@api.example'],
  ])('names a bad %s without showing the URL, which may carry a password', (name, value) => {
    expect(() => ApiConfig.fromEnvironment({ [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name}=\\[secret\\]: `));
    expect(() => ApiConfig.fromEnvironment({ [name]: value })).not.toThrow(/hunter2/);
  });

  it.each(['MOSAIC_API_TOKEN', 'ORCHESTRATOR_API_KEY'])('refuses a %s no Bearer header can carry, without showing it', (name) => {
    expect(() => ApiConfig.fromEnvironment({ [name]: 'a token with spaces in it, long enough' })).toThrow(
      new RegExp(`^Invalid configuration: ${name}=\\[secret\\]: must be a bearer token`),
    );
    expect(() => ApiConfig.fromEnvironment({ [name]: ' '.repeat(32) })).toThrow(`${name}=[secret]: must not be empty`);
  });

  it('trims white space around the bearer secrets', () => {
    const config = ApiConfig.fromEnvironment({ MOSAIC_API_TOKEN: ' operator-token\t', ORCHESTRATOR_API_KEY: 'orchestrator-key ' });
    expect(config.mosaicApiToken).toBe('operator-token');
    expect(config.orchestrator.apiKey).toBe('orchestrator-key');
  });

  it('refuses a production secret of too few distinct characters, naming it', () => {
    const strong = 'a-real-secret-of-thirty-two-chars-or-more';
    const production = { NODE_ENV: 'production', MOSAIC_API_TOKEN: strong, ORCHESTRATOR_API_KEY: strong, CALLBACK_SIGNING_KEY: strong };
    expect(() => ApiConfig.fromEnvironment(production)).not.toThrow();
    expect(() => ApiConfig.fromEnvironment({ ...production, MOSAIC_API_TOKEN: 'a'.repeat(32) })).toThrow(
      'MOSAIC_API_TOKEN has fewer than 10 distinct characters',
    );
  });

  it('names every bad variable at once', () => {
    expect(() => ApiConfig.fromEnvironment({ PORT: 'x', ORCHESTRATOR_URL: 'y' })).toThrow(/PORT.*ORCHESTRATOR_URL/);
  });

  describe('ORCHESTRATOR_API_KEY_FILE', () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'api-config-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the orchestrator key from the file, and it is no development value', () => {
      const file = join(dir, 'key');
      writeFileSync(file, 'key-from-file\n', { mode: 0o600 });
      const config = ApiConfig.fromEnvironment({ ORCHESTRATOR_API_KEY_FILE: file });
      expect(config.orchestrator.apiKey).toBe('key-from-file');
      expect(config.developmentDefaults).toEqual(['MOSAIC_API_TOKEN', 'CALLBACK_SIGNING_KEY']);
    });

    it('refuses an empty or missing file, and the key set both ways, naming the variable', () => {
      const empty = join(dir, 'empty');
      writeFileSync(empty, '');
      expect(() => ApiConfig.fromEnvironment({ ORCHESTRATOR_API_KEY_FILE: empty })).toThrow(
        /ORCHESTRATOR_API_KEY_FILE=".*": the file is empty/,
      );
      expect(() => ApiConfig.fromEnvironment({ ORCHESTRATOR_API_KEY_FILE: join(dir, 'missing') })).toThrow(
        /ORCHESTRATOR_API_KEY_FILE=".*": cannot be read/,
      );
      expect(() => ApiConfig.fromEnvironment({ ORCHESTRATOR_API_KEY: 'key', ORCHESTRATOR_API_KEY_FILE: empty })).toThrow(
        /ORCHESTRATOR_API_KEY and ORCHESTRATOR_API_KEY_FILE are both set/,
      );
    });
  });
});
