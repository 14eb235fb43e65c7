import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallbackReceiver, type CallbackEndpoint } from '../support/callback-receiver';
import { request, type HttpAnswer } from '../support/http';
import { liveDescendants } from '../support/process-table';
import { startService, stopLeavingNoProcesses, withServiceOutput, type ServiceProcess } from '../support/service-process';

// What an agent can read or reach, probed from inside real agent processes: the
// agent is a shell script that reports what it finds as log lines, read back
// here from its callbacks.

const ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
/** Debian's `nobody` (and its group `nogroup`). */
const NOBODY_UID = 65_534;
const asRoot = process.getuid?.() === 0;

/**
 * Shell lines, each reporting one probe as `<name>: <what it found>`; `$PPID` of the agent's
 * shell is its supervisor, whose parent is the orchestrator (field 4 of /proc/<pid>/stat).
 */
function probe(rootOnlyFile = '/nonexistent', spoolDir = '/nonexistent'): string {
  return [
    'echo "supervisor: $(cat /proc/$PPID/comm)"',
    'echo "parent: $(cut -d" " -f4 /proc/$PPID/stat)"',
    `echo "parent environ: $(cat /proc/$(cut -d" " -f4 /proc/$PPID/stat)/environ 2>&1 | tr '\\0' ' ')"`,
    `echo "own environ: $(env | tr '\\n' ' ')"`,
    'echo "uid: $(id -u)"',
    `echo "workdir: $(stat -c '%u %a' .)"`,
    `echo "task file: $(stat -c '%u %a' "$MOSAIC_TASK_FILE") $(head -c 14 "$MOSAIC_TASK_FILE" 2>&1)"`,
    `echo "root-only file: $(cat '${rootOnlyFile}' 2>&1)"`,
    `echo "own spool: $({ ls "${spoolDir}/$MOSAIC_SESSION_ID"; echo kill >>"${spoolDir}/$MOSAIC_SESSION_ID/stop"; } 2>&1 | tr '\\n' ' ')"`,
  ].join('; ');
}

function spawnProbe(service: ServiceProcess, key: string, endpoint: CallbackEndpoint | string): Promise<HttpAnswer> {
  const callbackUrl = typeof endpoint === 'string' ? endpoint : endpoint.url;
  return request('POST', `${service.url}/orchestrator/sessions/spawn`, {
    token: key,
    headers: { 'idempotency-key': randomUUID() },
    body: {
      task: { id: randomUUID(), title: 'probe' },
      context: { schema_version: 1 },
      callback_url: callbackUrl,
      callback_token: 'token',
    },
  });
}

/** Spawns that must be refused: `400` naming `callback_url`, and no session, no agent. */
async function expectCallbackUrlRefused(service: ServiceProcess, key: string, callbackUrls: string[]): Promise<void> {
  const sessions = async () =>
    (await request<{ sessions: unknown[] }>('GET', `${service.url}/orchestrator/sessions?limit=500`, { token: key })).body.sessions.length;
  const before = await sessions();
  for (const callbackUrl of callbackUrls) {
    const answer = await spawnProbe(service, key, callbackUrl);
    expect({ callbackUrl, status: answer.status }).toEqual({ callbackUrl, status: 400 });
    expect(answer.body.error).toEqual({ code: 'bad_request', message: expect.stringMatching(/^callback_url: /) });
  }
  expect(await sessions()).toBe(before);
  expect(liveDescendants(service.pid)).toEqual([]);
}

/** The session's accepted events, once the terminal one is among them. */
async function eventsToTheEnd(endpoint: CallbackEndpoint): Promise<CallbackEvent[]> {
  const events = () => endpoint.accepted<CallbackEvent>();
  await endpoint.waitFor(() => events().some((event) => event.type === 'status' && ['completed', 'failed'].includes(event.status ?? '')));
  return events();
}

/** The agent's findings, by probe name, once its session has ended. */
async function findings(endpoint: CallbackEndpoint): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const event of await eventsToTheEnd(endpoint)) {
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

describe('an orchestrator with its key in a file and the default callback origins', () => {
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
    "runs an agent that finds the key neither in its own environment nor in the orchestrator's",
    withServiceOutput(
      () => [service],
      async () => {
        const endpoint = receiver.endpoint();
        expect((await spawnProbe(service!, key, endpoint)).status).toBe(201);
        const found = await findings(endpoint);

        expect(found.supervisor).toBe('mosaic-supervis');
        // By pid: the orchestrator's command name is `node` on Node 22 and `MainThread` on Node 24, which names its main thread.
        expect(found.parent).toBe(String(service!.pid));
        // The agent did read the orchestrator's environment: the file's name is in it, the key is not.
        expect(found['parent environ']).toContain(`ORCHESTRATOR_API_KEY_FILE=${keyFile}`);
        expect(found['parent environ']).not.toContain(key);
        expect(found['parent environ']).not.toMatch(/(^| )ORCHESTRATOR_API_KEY=/);
        expect(found['own environ']).toMatch(/MOSAIC_TASK_FILE=/);
        expect(found['own environ']).not.toMatch(/ORCHESTRATOR_API_KEY/);
        for (const event of endpoint.received) expect(JSON.stringify(event.body)).not.toContain(key);
      },
    ),
    30_000,
  );

  it("(the probe's control: a key passed in ORCHESTRATOR_API_KEY is in the environment an agent of the same user reads)", async () => {
    const exposed = await startService({
      name: 'orchestrator-key-in-env',
      entry: ENTRY,
      env: { ORCHESTRATOR_API_KEY: key, AGENT_COMMAND: probe(), AGENT_USER: undefined },
    });
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

  it(
    'refuses a callback_url whose origin is not loopback, and starts nothing',
    withServiceOutput(
      () => [service],
      async () => {
        await expectCallbackUrlRefused(service!, key, [
          'http://192.0.2.10/callbacks/1',
          'http://169.254.169.254/latest/meta-data',
          'https://api.example/x',
          'http://127.0.0.1@192.0.2.10/x',
        ]);
      },
    ),
  );
});

describe('an orchestrator with ALLOWED_CALLBACK_ORIGINS', () => {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver;
  const key = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    service = await startService({
      name: 'orchestrator-origins',
      entry: ENTRY,
      env: {
        ORCHESTRATOR_API_KEY: key,
        ALLOWED_CALLBACK_ORIGINS: `https://api.example, ${receiver.baseUrl}`,
        AGENT_COMMAND: 'echo "ran"',
        AGENT_USER: undefined,
      },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
  });

  it(
    'sends callbacks to a listed origin and refuses any other, loopback included',
    withServiceOutput(
      () => [service],
      async () => {
        const endpoint = receiver.endpoint();
        expect((await spawnProbe(service!, key, endpoint)).status).toBe(201);
        expect(await eventsToTheEnd(endpoint)).toContainEqual(
          expect.objectContaining({ type: 'log', data: { stream: 'stdout', line: 'ran' } }),
        );

        const otherPort = new URL(receiver.baseUrl).port === '3000' ? '3001' : '3000';
        await expectCallbackUrlRefused(service!, key, [
          `http://127.0.0.1:${otherPort}/callbacks/1`,
          endpoint.url.replace('127.0.0.1', 'localhost'),
          'http://api.example/x',
        ]);
      },
    ),
  );
});

describe('the work directory root', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'agent-reach-roots-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `problem` is matched in the service's JSON log line, where quotes are escaped. */
  const refusesToStartOn = async (root: string, problem: RegExp) => {
    const outcome = await startService({
      name: 'orchestrator-bad-root',
      entry: ENTRY,
      env: { SESSION_WORKDIR_ROOT: root, AGENT_USER: undefined },
      startTimeoutMs: 10_000,
    }).then(
      async (started) => {
        await started.stop();
        return new Error(`the orchestrator started on ${root}`);
      },
      (error: Error) => error,
    );
    expect(outcome.message).toMatch(/exited before it became healthy/);
    expect(outcome.message).toMatch(problem);
  };

  it('stops start-up, naming SESSION_WORKDIR_ROOT, when it is open to other users or a symbolic link', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await refusesToStartOn(open, /SESSION_WORKDIR_ROOT=\\?".*\/open\\?": is open to other users \(mode 777\)/);

    const link = join(dir, 'link');
    const target = join(dir, 'target');
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, link);
    await refusesToStartOn(link, /SESSION_WORKDIR_ROOT=\\?".*\/link\\?": is a symbolic link/);
  }, 30_000);

  (asRoot ? it : it.skip)(
    'stops start-up when it belongs to another user, as one planted in the shared temp directory would',
    async () => {
      const planted = join(dir, 'planted');
      mkdirSync(planted, { mode: 0o700 });
      chownSync(planted, NOBODY_UID, NOBODY_UID);
      await refusesToStartOn(planted, /SESSION_WORKDIR_ROOT=\\?".*\/planted\\?": belongs to uid 65534/);
    },
    30_000,
  );
});

(asRoot ? describe : describe.skip)('an orchestrator with AGENT_USER=nobody (run as root)', () => {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver;
  let dir: string;
  let keyFile: string;
  let workdirRoot: string;
  const key = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    dir = mkdtempSync(join(tmpdir(), 'agent-reach-user-'));
    // Others may enter the test's directory, so that what the agent cannot read it cannot read for the file's own mode.
    chmodSync(dir, 0o755);
    keyFile = join(dir, 'orchestrator-api-key');
    writeFileSync(keyFile, key, { mode: 0o600 });
    workdirRoot = join(dir, 'sessions');
    service = await startService({
      name: 'orchestrator-agent-user',
      entry: ENTRY,
      env: {
        ORCHESTRATOR_API_KEY: undefined,
        ORCHESTRATOR_API_KEY_FILE: keyFile,
        AGENT_USER: 'nobody',
        SESSION_WORKDIR_ROOT: workdirRoot,
        SESSION_SPOOL_ROOT: join(dir, 'spools'),
        NODE_ID: 'reach-node',
        AGENT_COMMAND: probe(keyFile, join(dir, 'spools', 'reach-node')),
      },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    "runs the agent as nobody, in a directory only it may use, unable to read the orchestrator's environment or the key file",
    withServiceOutput(
      () => [service],
      async () => {
        const endpoint = receiver.endpoint();
        expect((await spawnProbe(service!, key, endpoint)).status).toBe(201);
        const found = await findings(endpoint);

        expect(found.uid).toBe(String(NOBODY_UID));
        expect(found['parent environ']).toMatch(/Permission denied/);
        expect(found['root-only file']).toMatch(/Permission denied/);
        // Its supervisor's files are out of its reach: neither listed nor written (a stop request least of all).
        expect(found['own spool']).toMatch(/^ls: cannot access .*: Permission denied .*: Permission denied $/);
        expect(found.workdir).toBe(`${NOBODY_UID} 700`);
        expect(found['task file']).toBe(`${NOBODY_UID} 600 {"session_id":`);
        expect(found['own environ']).toMatch(/(^| )USER=nobody /);
        expect(found['own environ']).toMatch(/(^| )HOME=\/nonexistent /);
        expect(JSON.stringify(endpoint.received)).not.toContain(key);
        // Its group may enter the root, to reach the session's own directory; nobody may list it.
        expect(statSync(workdirRoot)).toMatchObject({ uid: 0, gid: NOBODY_UID, mode: expect.any(Number) });
        expect(statSync(workdirRoot).mode & 0o777).toBe(0o710);
      },
    ),
    30_000,
  );
});
