import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigurationError, envBearerSecret, envBoolean, envInteger, envText, envUrl, readEnvironment } from './environment';

const schema = z.object({
  PORT: envInteger('a port number', 0, 65_535).default(3000),
  RETRIES: envInteger('a number of retries', 1).optional(),
  VERBOSE: envBoolean().default(true),
  TARGET_URL: envUrl(['http', 'https']).optional(),
  NAME: envText().default('mosaic'),
  API_KEY: envBearerSecret().optional(),
});

describe('readEnvironment', () => {
  it('applies defaults only to variables that are not set', () => {
    expect(readEnvironment(schema, {})).toEqual({ PORT: 3000, VERBOSE: true, NAME: 'mosaic' });
  });

  it("reads '0' and 'false' as values, not as missing", () => {
    expect(readEnvironment(schema, { PORT: '0', VERBOSE: 'false' })).toMatchObject({ PORT: 0, VERBOSE: false });
    expect(readEnvironment(schema, { VERBOSE: '0' }).VERBOSE).toBe(false);
    expect(readEnvironment(schema, { VERBOSE: 'TRUE' }).VERBOSE).toBe(true);
    expect(readEnvironment(schema, { VERBOSE: '1' }).VERBOSE).toBe(true);
  });

  it('reads URLs and bearer secrets', () => {
    expect(readEnvironment(schema, { TARGET_URL: 'https://example.test/x', API_KEY: 'k3y-._~+/==' })).toMatchObject({
      TARGET_URL: 'https://example.test/x',
      API_KEY: 'k3y-._~+/==',
    });
  });

  it.each([
    ['PORT', '', 'expected a port number'],
    ['PORT', 'abc', 'expected a port number'],
    ['PORT', '1.5', 'expected a port number'],
    ['PORT', '-1', 'expected a port number'],
    ['PORT', '70000', 'must be at most 65535'],
    ['RETRIES', '0', 'must be at least 1'],
    ['VERBOSE', '', 'expected true or false'],
    ['VERBOSE', 'yes', 'expected true or false'],
    ['TARGET_URL', '', 'expected a URL (http, https)'],
    ['TARGET_URL', 'ftp://example.test', 'expected a URL (http, https)'],
    ['NAME', '', 'must not be empty'],
    ['NAME', '   ', 'must not be empty'],
    ['API_KEY', 'p@ss word', 'must be a bearer token'],
    ['API_KEY', ' '.repeat(32), 'must not be empty'],
  ])('refuses %s=%j as a wrong value, naming the variable and its value', (name, value, problem) => {
    const read = () => readEnvironment(schema, { [name]: value });
    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(`Invalid configuration: ${name}=${JSON.stringify(value)}: ${problem}`);
  });

  it('trims white space around a bearer secret, which no Authorization header could carry', () => {
    expect(readEnvironment(schema, { API_KEY: '  k3y-with-spaces-around \t' }).API_KEY).toBe('k3y-with-spaces-around');
  });

  it('names every bad variable at once', () => {
    expect(() => readEnvironment(schema, { PORT: 'x', NAME: '' })).toThrow(
      'Invalid configuration: PORT="x": expected a port number; NAME="": must not be empty',
    );
  });

  it('never shows the value of a secret', () => {
    expect(() => readEnvironment(schema, { API_KEY: 'p@ss word' }, { secrets: ['API_KEY'] })).toThrow(
      /^Invalid configuration: API_KEY=\[secret\]: must be a bearer token/,
    );
  });
});

describe('readEnvironment with secrets in files', () => {
  let dir: string;
  const fileWith = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  const read = (environment: Record<string, string>) => readEnvironment(schema, environment, { secretFiles: ['API_KEY'] });

  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'environment-spec-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the secret from <NAME>_FILE, without one trailing newline', () => {
    expect(read({ API_KEY_FILE: fileWith('unix', 'k3y-from-file\n') }).API_KEY).toBe('k3y-from-file');
    expect(read({ API_KEY_FILE: fileWith('dos', 'k3y-from-file\r\n') }).API_KEY).toBe('k3y-from-file');
    expect(read({ API_KEY_FILE: fileWith('bare', 'k3y-from-file') }).API_KEY).toBe('k3y-from-file');
  });

  it('still reads the secret from the variable when no file is named', () => {
    expect(read({ API_KEY: 'k3y' }).API_KEY).toBe('k3y');
  });

  it.each([
    ['missing', () => join(dir, 'missing'), 'cannot be read (ENOENT)'],
    ['a directory', () => dir, 'cannot be read (EISDIR)'],
    ['empty', () => fileWith('empty', ''), 'the file is empty'],
    ['only a newline', () => fileWith('newline', '\n'), 'the file is empty'],
  ])('refuses a file that is %s, naming the variable and the file', (_, file, problem) => {
    const path = file();
    expect(() => read({ API_KEY_FILE: path })).toThrow(
      new ConfigurationError(`Invalid configuration: API_KEY_FILE=${JSON.stringify(path)}: ${problem}`),
    );
  });

  it('refuses the secret set both ways', () => {
    expect(() => read({ API_KEY: 'k3y', API_KEY_FILE: fileWith('both', 'k3y') })).toThrow(
      'Invalid configuration: API_KEY and API_KEY_FILE are both set: set one of them',
    );
  });

  it("validates the file's content like the variable, without showing it", () => {
    expect(() => read({ API_KEY_FILE: fileWith('spaces', 'p@ss word\n'), PORT: 'x' })).toThrow(
      'Invalid configuration: PORT="x": expected a port number; API_KEY (from API_KEY_FILE)=[secret]: must be a bearer token',
    );
  });
});
