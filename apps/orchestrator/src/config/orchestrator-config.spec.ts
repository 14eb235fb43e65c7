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
    });
    expect(config).toMatchObject({ port: 0, apiKey: 'secret', usesDevelopmentApiKey: false, agentCommand: 'exit 0', callbackRetryMaxMs: 0, logLinesPerSecond: 0, shutdownGraceMs: 0, sessionWorkdirRoot: '/tmp/sessions', sessionRetentionMs: 1000 });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['SESSION_TIMEOUT_MS', '1.5'],
    ['SESSION_TIMEOUT_MS', '0'],
    ['SESSION_RETENTION_MS', '0'],
    ['SESSION_RETENTION_MS', '3000000000'],
    ['MAX_CONCURRENT_SESSIONS', '-1'],
    ['CALLBACK_TIMEOUT_MS', ''],
    ['ORCHESTRATOR_API_KEY', ''],
    ['ORCHESTRATOR_API_KEY', 'no spaces in a bearer token'],
    ['AGENT_COMMAND', '  '],
  ])('refuses %s=%j with a message naming the variable', (name, value) => {
    expect(() => OrchestratorConfig.fromEnvironment({ [name]: value })).toThrow(ConfigurationError);
    expect(() => OrchestratorConfig.fromEnvironment({ [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name}=`));
  });

  it('never shows the API key in its message', () => {
    expect(() => OrchestratorConfig.fromEnvironment({ ORCHESTRATOR_API_KEY: 'almost right!' })).toThrow(/^Invalid configuration: ORCHESTRATOR_API_KEY=\[secret\]: /);
  });
});
