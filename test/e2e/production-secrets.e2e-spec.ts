import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { DEVELOPMENT_ORCHESTRATOR_API_KEY } from '@mosaic/orchestrator-contract';
import { DEVELOPMENT_CALLBACK_SIGNING_KEY, DEVELOPMENT_MOSAIC_API_TOKEN } from '../../apps/api/src/config/api-config';
import { DEVELOPMENT_CLUSTER_KEY, DEVELOPMENT_STORE_SECRETS_KEY } from '../../apps/orchestrator/src/config/orchestrator-config';
import { testDatabaseUrl } from '../support/database';
import { request } from '../support/http';
import { nodeArgsOf, startService, stopLeavingNoProcesses } from '../support/service-process';

const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const ORCHESTRATOR_ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const STRONG = 'a-real-secret-of-thirty-two-chars-or-more';

jest.setTimeout(30_000);

/** Runs a built service until it exits by itself (or 10 s passed): its exit code and what it printed. */
async function exitOf(entry: string, env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const environment = { ...process.env, PORT: '0', ...env };
  const child = spawn(process.execPath, [...nodeArgsOf(entry), entry], {
    env: Object.fromEntries(Object.entries(environment).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}

/** Issue 16: with NODE_ENV=production, a service refuses development secrets, naming the variable. */
describe('production refuses development secrets (built services)', () => {
  const production = {
    NODE_ENV: 'production',
    DATABASE_URL: testDatabaseUrl(),
    CALLBACK_SIGNING_KEY: `${STRONG}-signing`,
    STORE_SECRETS_KEY: `${STRONG}-store`,
    CLUSTER_KEY: `${STRONG}-cluster`,
  };

  it.each([
    ['unset', undefined, 'MOSAIC_API_TOKEN is not set'],
    ['the development value', DEVELOPMENT_MOSAIC_API_TOKEN, 'MOSAIC_API_TOKEN is the development value'],
    ['short', 'too-short', 'MOSAIC_API_TOKEN is shorter than 32 characters'],
  ])('the API stops when MOSAIC_API_TOKEN is %s', async (_case, token, why) => {
    const { code, output } = await exitOf(API_ENTRY, { ...production, MOSAIC_API_TOKEN: token, ORCHESTRATOR_API_KEY: STRONG });
    expect(code).not.toBe(0);
    expect(output).toContain(why);
    if (token !== undefined) expect(output).not.toContain(token);
  });

  it.each([
    ['unset', undefined, 'CALLBACK_SIGNING_KEY is not set'],
    ['the development value', DEVELOPMENT_CALLBACK_SIGNING_KEY, 'CALLBACK_SIGNING_KEY is the development value'],
    ['short', 'too-short', 'CALLBACK_SIGNING_KEY is shorter than 32 characters'],
  ])('the API stops when CALLBACK_SIGNING_KEY is %s', async (_case, key, why) => {
    const { code, output } = await exitOf(API_ENTRY, {
      ...production,
      CALLBACK_SIGNING_KEY: key,
      MOSAIC_API_TOKEN: STRONG,
      ORCHESTRATOR_API_KEY: STRONG,
    });
    expect(code).not.toBe(0);
    expect(output).toContain(why);
  });

  it.each([
    ['unset', undefined, 'ORCHESTRATOR_API_KEY is not set'],
    ['the development value', DEVELOPMENT_ORCHESTRATOR_API_KEY, 'ORCHESTRATOR_API_KEY is the development value'],
    ['short', 'too-short', 'ORCHESTRATOR_API_KEY is shorter than 32 characters'],
  ])('the orchestrator and the API stop when ORCHESTRATOR_API_KEY is %s', async (_case, key, why) => {
    for (const entry of [ORCHESTRATOR_ENTRY, API_ENTRY]) {
      const { code, output } = await exitOf(entry, { ...production, ORCHESTRATOR_API_KEY: key, MOSAIC_API_TOKEN: STRONG });
      expect(code).not.toBe(0);
      expect(output).toContain(why);
    }
  });

  it.each([
    ['STORE_SECRETS_KEY', DEVELOPMENT_STORE_SECRETS_KEY],
    ['CLUSTER_KEY', DEVELOPMENT_CLUSTER_KEY],
  ])('the orchestrator stops when %s is unset or the development value', async (name, developmentValue) => {
    for (const [value, why] of [
      [undefined, `${name} is not set`],
      [developmentValue, `${name} is the development value`],
    ] as const) {
      const { code, output } = await exitOf(ORCHESTRATOR_ENTRY, {
        ...production,
        ORCHESTRATOR_API_KEY: STRONG,
        AGENT_USER: userInfo().username,
        [name]: value,
      });
      expect(code).not.toBe(0);
      expect(output).toContain(why);
    }
  });

  it('the orchestrator stops without AGENT_USER, naming it', async () => {
    const { code, output } = await exitOf(ORCHESTRATOR_ENTRY, { ...production, ORCHESTRATOR_API_KEY: STRONG, AGENT_USER: undefined });
    expect(code).not.toBe(0);
    expect(output).toContain('AGENT_USER is not set; with NODE_ENV=production');
  });

  it('both start with real secrets', async () => {
    // The test's own user: naming another one takes root.
    const env = { ...production, ORCHESTRATOR_API_KEY: STRONG, MOSAIC_API_TOKEN: `${STRONG}-operator`, AGENT_USER: userInfo().username };
    const orchestrator = await startService({ name: 'orchestrator', entry: ORCHESTRATOR_ENTRY, env });
    try {
      const api = await startService({
        name: 'api',
        entry: API_ENTRY,
        env: { ...env, ORCHESTRATOR_URL: orchestrator.url },
        healthPath: '/health/orchestrator',
      });
      try {
        // Up, and the API reaches the orchestrator with the real key: the secrets were taken, not only tolerated.
        expect((await request('GET', `${orchestrator.url}/health`)).status).toBe(200);
        expect((await request('GET', `${api.url}/health/orchestrator`)).body).toMatchObject({
          status: 'ok',
          details: { orchestrator: { status: 'up' } },
        });
        expect((await request('GET', `${api.url}/orchestrator/sessions`, { token: `${STRONG}-operator` })).status).toBe(200);
      } finally {
        await stopLeavingNoProcesses(api);
      }
    } finally {
      await stopLeavingNoProcesses(orchestrator);
    }
  });
});
