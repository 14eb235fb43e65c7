import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_ORCHESTRATOR_API_KEY } from '@mosaic/orchestrator-contract';
import { ConfigurationError } from '@mosaic/http-kit';
import { OrchestratorConfig } from './orchestrator-config';

describe('OrchestratorConfig.fromEnvironment', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = OrchestratorConfig.fromEnvironment({ PATH: '/bin', SECRET: 'x' });
    expect(config).toMatchObject({
      port: 3100,
      host: '127.0.0.1',
      apiKey: DEVELOPMENT_ORCHESTRATOR_API_KEY,
      usesDevelopmentApiKey: true,
      sessionTimeoutMs: 30 * 60 * 1000,
      sessionRetentionMs: 24 * 60 * 60 * 1000,
      maxConcurrentSessions: 64,
      cancelGraceMs: 10_000,
      agentEnv: { PATH: '/bin' },
    });
    expect(config.agentCommand).toMatch(/sample-agent\.js'$/);
  });

  it('reads every variable, and 0 is a number', () => {
    const config = OrchestratorConfig.fromEnvironment({
      PORT: '0',
      ORCHESTRATOR_API_KEY: 'secret',
      AGENT_COMMAND: 'exit 0',
      CALLBACK_RETRY_MAX_MS: '0',
      LOG_LINES_PER_SECOND: '0',
      SHUTDOWN_GRACE_MS: '0',
      SESSION_WORKDIR_ROOT: '/tmp/sessions',
      SESSION_RETENTION_MS: '1000',
      CANCEL_GRACE_MS: '0',
    });
    expect(config).toMatchObject({
      cancelGraceMs: 0,
      port: 0,
      apiKey: 'secret',
      usesDevelopmentApiKey: false,
      agentCommand: 'exit 0',
      callbackRetryMaxMs: 0,
      logLinesPerSecond: 0,
      shutdownGraceMs: 0,
      sessionWorkdirRoot: '/tmp/sessions',
      sessionRetentionMs: 1000,
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['SESSION_TIMEOUT_MS', '1.5'],
    ['SESSION_TIMEOUT_MS', '0'],
    ['SESSION_RETENTION_MS', '0'],
    ['SESSION_RETENTION_MS', '3000000000'],
    ['MAX_CONCURRENT_SESSIONS', '-1'],
    ['CANCEL_GRACE_MS', 'soon'],
    ['CANCEL_GRACE_MS', '600001'],
    ['CALLBACK_TIMEOUT_MS', ''],
    ['ORCHESTRATOR_API_KEY', ''],
    ['ORCHESTRATOR_API_KEY', 'no spaces in a bearer token'],
    ['AGENT_COMMAND', '  '],
  ])('refuses %s=%j with a message naming the variable', (name, value) => {
    expect(() => OrchestratorConfig.fromEnvironment({ [name]: value })).toThrow(ConfigurationError);
    expect(() => OrchestratorConfig.fromEnvironment({ [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name}=`));
  });

  it('reads ALLOWED_CALLBACK_ORIGINS as a comma-separated list that replaces the loopback default', () => {
    expect(OrchestratorConfig.fromEnvironment({}).callbackOrigins.allows('http://127.0.0.1:9/x')).toBe(true);
    const config = OrchestratorConfig.fromEnvironment({ ALLOWED_CALLBACK_ORIGINS: 'https://api.example/ , http://10.0.0.5:3000' });
    expect(config.callbackOrigins.allows('https://api.example/x')).toBe(true);
    expect(config.callbackOrigins.allows('http://10.0.0.5:3000/x')).toBe(true);
    expect(config.callbackOrigins.allows('http://127.0.0.1:9/x')).toBe(false);
  });

  it.each(['', 'https://api.example/callbacks', 'https://api.example,', 'api.example'])(
    'refuses ALLOWED_CALLBACK_ORIGINS=%j, naming it',
    (value) => {
      expect(() => OrchestratorConfig.fromEnvironment({ ALLOWED_CALLBACK_ORIGINS: value })).toThrow(
        /^Invalid configuration: ALLOWED_CALLBACK_ORIGINS=/,
      );
    },
  );

  it("looks AGENT_USER up once, and gives agents that user's HOME, USER and SHELL", () => {
    const config = OrchestratorConfig.fromEnvironment({ AGENT_USER: 'nobody', PATH: '/bin', HOME: '/root', USER: 'root' });
    expect(config.agentUser).toMatchObject({ name: 'nobody', uid: 65_534, gid: 65_534 });
    expect(config.agentEnv).toEqual({ PATH: '/bin', HOME: config.agentUser?.home, USER: 'nobody', SHELL: config.agentUser?.shell });
    expect(OrchestratorConfig.fromEnvironment({}).agentUser).toBeUndefined();
  });

  it.each([
    ['no-such-user-mosaic', /^Invalid configuration: AGENT_USER="no-such-user-mosaic": no such user$/],
    ['--help', /^Invalid configuration: AGENT_USER="--help": expected a user name$/],
  ])('refuses AGENT_USER=%j, naming it', (name, message) => {
    expect(() => OrchestratorConfig.fromEnvironment({ AGENT_USER: name })).toThrow(message);
  });

  it('refuses to start in production without AGENT_USER, naming it', () => {
    const production = {
      NODE_ENV: 'production',
      ORCHESTRATOR_API_KEY: 'a-production-api-key-of-forty-characters',
      STORE_SECRETS_KEY: 'a-production-store-key-of-forty-characters',
      CLUSTER_KEY: 'a-production-cluster-key-of-forty-characters',
    };
    expect(() => OrchestratorConfig.fromEnvironment(production)).toThrow(
      /^Invalid configuration: AGENT_USER is not set; with NODE_ENV=production/,
    );
    expect(OrchestratorConfig.fromEnvironment({ ...production, AGENT_USER: userInfo().username }).agentUser?.uid).toBe(process.getuid?.());
  });

  it('refuses AGENT_USER naming another user when not root: every spawn would fail', () => {
    const getuid = jest.spyOn(process, 'getuid').mockReturnValue(1000);
    try {
      expect(() => OrchestratorConfig.fromEnvironment({ AGENT_USER: 'nobody' })).toThrow(
        /^Invalid configuration: AGENT_USER="nobody": running agents as another user needs the orchestrator to run as root/,
      );
    } finally {
      getuid.mockRestore();
    }
  });

  it.each([
    ['QUEUE_URL', 'http://mosaic:hunter2-password@redis.internal:6379'],
    ['ORCHESTRATOR_DATABASE_URL', 'mysql://mosaic:hunter2-password@db.internal:5432/orchestrator'],
    ['NODE_URL', 'ftp://node:hunter2-password@10.0.0.7:3100'],
  ])('names a bad %s without showing the URL, which may carry a password', (name, value) => {
    expect(() => OrchestratorConfig.fromEnvironment({ [name]: value })).toThrow(
      new RegExp(`^Invalid configuration: ${name}=\\[secret\\]: `),
    );
    expect(() => OrchestratorConfig.fromEnvironment({ [name]: value })).not.toThrow(/hunter2/);
  });

  it('trims white space around the API key, and refuses one of spaces', () => {
    expect(OrchestratorConfig.fromEnvironment({ ORCHESTRATOR_API_KEY: ' key\n' }).apiKey).toBe('key');
    expect(() => OrchestratorConfig.fromEnvironment({ ORCHESTRATOR_API_KEY: ' '.repeat(32) })).toThrow(
      'ORCHESTRATOR_API_KEY=[secret]: must not be empty',
    );
  });

  it('refuses in production an API key of too few distinct characters', () => {
    expect(() => OrchestratorConfig.fromEnvironment({ NODE_ENV: 'production', ORCHESTRATOR_API_KEY: 'a'.repeat(32) })).toThrow(
      'ORCHESTRATOR_API_KEY has fewer than 10 distinct characters',
    );
  });

  it('never shows the API key in its message', () => {
    expect(() => OrchestratorConfig.fromEnvironment({ ORCHESTRATOR_API_KEY: 'almost right!' })).toThrow(
      /^Invalid configuration: ORCHESTRATOR_API_KEY=\[secret\]: /,
    );
  });

  describe('ORCHESTRATOR_API_KEY_FILE', () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'orchestrator-config-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = (text: string) => {
      const file = join(dir, `key-${Math.random()}`);
      writeFileSync(file, text, { mode: 0o600 });
      return file;
    };

    it('reads the key from the file, which no agent gets, nor the key', () => {
      const config = OrchestratorConfig.fromEnvironment({ ORCHESTRATOR_API_KEY_FILE: keyFile('key-from-file\n'), PATH: '/bin' });
      expect(config).toMatchObject({ apiKey: 'key-from-file', usesDevelopmentApiKey: false, agentEnv: { PATH: '/bin' } });
    });

    it('never passes the key to agents when it comes from the environment either', () => {
      expect(OrchestratorConfig.fromEnvironment({ ORCHESTRATOR_API_KEY: 'key', PATH: '/bin' }).agentEnv).toEqual({ PATH: '/bin' });
    });

    it.each([
      [
        'an empty file',
        () => ({ ORCHESTRATOR_API_KEY_FILE: keyFile('') }),
        /^Invalid configuration: ORCHESTRATOR_API_KEY_FILE=".*": the file is empty$/,
      ],
      [
        'a missing file',
        () => ({ ORCHESTRATOR_API_KEY_FILE: join(dir, 'missing') }),
        /^Invalid configuration: ORCHESTRATOR_API_KEY_FILE=".*": cannot be read \(ENOENT\)$/,
      ],
      [
        'both the key and its file',
        () => ({ ORCHESTRATOR_API_KEY: 'key', ORCHESTRATOR_API_KEY_FILE: keyFile('key') }),
        /ORCHESTRATOR_API_KEY and ORCHESTRATOR_API_KEY_FILE are both set/,
      ],
      [
        'a key no Bearer header can carry',
        () => ({ ORCHESTRATOR_API_KEY_FILE: keyFile('two words') }),
        /^Invalid configuration: ORCHESTRATOR_API_KEY \(from ORCHESTRATOR_API_KEY_FILE\)=\[secret\]: must be a bearer token/,
      ],
    ])('refuses %s, naming the variable', (_, environment, message) => {
      expect(() => OrchestratorConfig.fromEnvironment(environment())).toThrow(message);
    });
  });
});
