import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallbackReceiver, type CallbackEndpoint } from '../support/callback-receiver';
import { startService, stopLeavingNoProcesses, withServiceOutput, type ServiceProcess } from '../support/service-process';

// What an agent can read or reach, probed from inside real agent processes: the
// agent is a shell script that reports what it finds as log lines, read back
// here from its callbacks.

const ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');

/** Shell lines, each reporting one probe as `<name>: <what it found>`; `$PPID` of the agent's shell is the orchestrator. */
function probe(rootOnlyFile = '/nonexistent'): string {
  return [
    'echo "parent: $(cat /proc/$PPID/comm)"',
    `echo "parent environ: $(cat /proc/$PPID/environ 2>&1 | tr '\\0' ' ')"`,
    `echo "own environ: $(env | tr '\\n' ' ')"`,
    'echo "uid: $(id -u)"',
    `echo "workdir: $(stat -c '%u %a' .)"`,
    `echo "task file: $(stat -c '%u %a' "$MOSAIC_TASK_FILE") $(head -c 14 "$MOSAIC_TASK_FILE" 2>&1)"`,
    `echo "root-only file: $(cat '${rootOnlyFile}' 2>&1)"`,
  ].join('; ');
}

async function spawnProbe(service: ServiceProcess, key: string, endpoint: CallbackEndpoint): Promise<Response> {
  return fetch(`${service.url}/orchestrator/sessions/spawn`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ task: { id: randomUUID(), title: 'probe' }, context: { schema_version: 1 }, callback_url: endpoint.url, callback_token: 'token' }),
  });
}

/** The agent's findings, by probe name, once its session has ended. */
async function findings(endpoint: CallbackEndpoint): Promise<Record<string, string>> {
  const events = () => endpoint.accepted<CallbackEvent>();
  await endpoint.waitFor(() => events().some((event) => event.type === 'status' && ['completed', 'failed'].includes(event.status ?? '')));
  const found: Record<string, string> = {};
  for (const event of events()) {
    if (event.type !== 'log') continue;
    const line = (event.data as { line: string }).line;
    const colon = line.indexOf(': ');
    if (colon > 0) found[line.slice(0, colon)] = line.slice(colon + 2);
  }
  return found;
}

beforeAll(() => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`pnpm build\` first`);
});

describe('an agent cannot read the orchestrator API key', () => {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver;
  let dir: string;
  const key = randomBytes(24).toString('base64url');
  let keyFile: string;

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    dir = mkdtempSync(join(tmpdir(), 'agent-reach-'));
    keyFile = join(dir, 'orchestrator-api-key');
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    service = await startService({
      name: 'orchestrator',
      entry: ENTRY,
      env: { ORCHESTRATOR_API_KEY: undefined, ORCHESTRATOR_API_KEY_FILE: keyFile, AGENT_COMMAND: probe(), AGENT_USER: undefined },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'in its own environment nor in the orchestrator\'s, when the key comes from ORCHESTRATOR_API_KEY_FILE',
    withServiceOutput(() => service, async () => {
      const endpoint = receiver.endpoint();
      expect((await spawnProbe(service!, key, endpoint)).status).toBe(201);
      const found = await findings(endpoint);

      expect(found.parent).toBe('node');
      // The agent did read the orchestrator's environment: the file's name is in it, the key is not.
      expect(found['parent environ']).toContain(`ORCHESTRATOR_API_KEY_FILE=${keyFile}`);
      expect(found['parent environ']).not.toContain(key);
      expect(found['parent environ']).not.toMatch(/(^| )ORCHESTRATOR_API_KEY=/);
      expect(found['own environ']).toMatch(/MOSAIC_TASK_FILE=/);
      expect(found['own environ']).not.toMatch(/ORCHESTRATOR_API_KEY/);
      for (const event of endpoint.received) expect(JSON.stringify(event.body)).not.toContain(key);
    }),
    30_000,
  );

  it('(the probe\'s control: a key passed in ORCHESTRATOR_API_KEY is in the environment an agent of the same user reads)', async () => {
    const exposed = await startService({ name: 'orchestrator-key-in-env', entry: ENTRY, env: { ORCHESTRATOR_API_KEY: key, AGENT_COMMAND: probe(), AGENT_USER: undefined } });
    try {
      const endpoint = receiver.endpoint();
      expect((await spawnProbe(exposed, key, endpoint)).status).toBe(201);
      const found = await findings(endpoint);
      expect(found['parent environ']).toContain(`ORCHESTRATOR_API_KEY=${key}`);
      expect(found['own environ']).not.toContain(key);
    } finally {
      await stopLeavingNoProcesses(exposed);
    }
  }, 30_000);
});
