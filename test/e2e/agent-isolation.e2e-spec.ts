import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallbackReceiver, type CallbackEndpoint } from '../support/callback-receiver';
import { request } from '../support/http';
import { liveProcesses } from '../support/process-table';
import { startService, stopLeavingNoProcesses, withServiceOutput, type ServiceProcess } from '../support/service-process';

// What an agent run as the orchestrator's own user (AGENT_USER unset) can do to other
// sessions and what it is given: real agents, each a shell script chosen by its task's title.

const ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const NODE_ID = 'isolation-node';
const TERMINAL = ['completed', 'failed', 'killed', 'cancelled'];

/**
 * The agents. `victim`: waits until the attack is done, reports progress of its own, exits 0.
 * `attacker`: for the sessions named in its task, appends a usage and a progress line to the
 * first one's spool (as the supervisor's format had them, and with a made-up MAC), writes kill
 * requests to the second one's stop file and signals its supervisor. `escaper`: starts a process
 * in a session of its own and waits. `fds`: lists its shell's open descriptors and what they are.
 */
function agentScript(dir: string, spoolDir: string): string {
  return `#!/bin/sh
task=$(cat "$MOSAIC_TASK_FILE")
case "$task" in
*'"title":"victim"'*)
  echo ready
  i=0; while [ ! -e '${dir}/attack-done' ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
  sleep 0.5
  echo '{"type":"progress","message":"my own progress"}'
  exit 0 ;;
*'"title":"attacker"'*)
  spool_target=$(sed 's/.*"spool_target":"\\([^"]*\\)".*/\\1/' "$MOSAIC_TASK_FILE")
  stop_target=$(sed 's/.*"stop_target":"\\([^"]*\\)".*/\\1/' "$MOSAIC_TASK_FILE")
  segment=$(ls '${spoolDir}'/$spool_target/spool.* | tail -n 1)
  now=$(date +%s)000
  usage='{"type":"usage","input_tokens":1,"output_tokens":1,"cost_usd":2}'
  progress='{"type":"progress","message":"forged progress"}'
  for body in "1000 $now O $usage" "1001 $now O $progress"; do
    echo "$body" >> "$segment"
    echo "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n') $body" >> "$segment"
  done
  printf 'kill\\n%s kill\\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n')" >> '${spoolDir}'/$stop_target/stop
  kill -USR1 "$(cut -d' ' -f1 '${spoolDir}'/$stop_target/identity)"
  echo attacked
  touch '${dir}/attack-done'
  exit 0 ;;
*'"title":"escaper"'*)
  setsid sh -c 'echo "escaped $$"; exec sleep 1001' &
  sleep 0.2
  echo ready
  exec sleep 1002 ;;
*'"title":"fds"'*)
  ls -l /proc/$$/fd | sed -n 's/.* \\([0-9]*\\) -> \\(.*\\)/fd \\1 \\2/p'
  exit 0 ;;
esac
exit 9
`;
}

describe('agents run as the orchestrator’s own user', () => {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver;
  let dir: string;
  const key = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`pnpm build\` first`);
    receiver = await CallbackReceiver.start();
    dir = mkdtempSync(join(tmpdir(), 'agent-isolation-'));
    const spoolRoot = join(dir, 'spools');
    writeFileSync(join(dir, 'agent.sh'), agentScript(dir, join(spoolRoot, NODE_ID)), { mode: 0o700 });
    service = await startService({
      name: 'orchestrator-isolation',
      entry: ENTRY,
      env: {
        ORCHESTRATOR_API_KEY: key,
        AGENT_COMMAND: `sh ${join(dir, 'agent.sh')}`,
        AGENT_USER: undefined,
        NODE_ID,
        SESSION_SPOOL_ROOT: spoolRoot,
        LOG_LINES_PER_SECOND: '1000',
      },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function spawn(endpoint: CallbackEndpoint, title: string, metadata: Record<string, string> = {}): Promise<string> {
    const answer = await request<{ session_id: string }>('POST', `${service!.url}/orchestrator/sessions/spawn`, {
      token: key,
      headers: { 'idempotency-key': randomUUID() },
      body: {
        task: { id: randomUUID(), title, metadata },
        context: { schema_version: 1 },
        callback_url: endpoint.url,
        callback_token: 'token',
      },
    });
    expect(answer.status).toBe(201);
    return answer.body.session_id;
  }

  const eventsOf = (endpoint: CallbackEndpoint, sessionId: string) =>
    endpoint.accepted<CallbackEvent>().filter((event) => event.session_id === sessionId);
  const lines = (events: CallbackEvent[]) =>
    events.flatMap((event) => (event.type === 'log' ? [(event.data as { line: string }).line] : []));
  const ended = (endpoint: CallbackEndpoint, sessionId: string) =>
    endpoint.waitFor(() => eventsOf(endpoint, sessionId).some((event) => event.type === 'status' && TERMINAL.includes(event.status ?? '')));
  const terminalOf = (endpoint: CallbackEndpoint, sessionId: string) =>
    eventsOf(endpoint, sessionId).find((event) => event.type === 'status' && TERMINAL.includes(event.status ?? ''));

  it(
    "cannot forge another session's events nor stop it through its supervisor's files",
    withServiceOutput(
      () => [service],
      async () => {
        const endpoint = receiver.endpoint();
        const spoolVictim = await spawn(endpoint, 'victim');
        const stopVictim = await spawn(endpoint, 'victim');
        // Both victims run (their spools and stop files exist) before the attack.
        await endpoint.waitFor(() => [spoolVictim, stopVictim].every((id) => lines(eventsOf(endpoint, id)).includes('ready')));
        const attacker = await spawn(endpoint, 'attacker', { spool_target: spoolVictim, stop_target: stopVictim });
        for (const id of [attacker, spoolVictim, stopVictim]) await ended(endpoint, id);

        expect(lines(eventsOf(endpoint, attacker))).toEqual(['attacked']);
        // Each victim as it would be untouched: completed, its own progress only, no usage.
        const outcome = (id: string) => ({
          status: terminalOf(endpoint, id)?.status,
          usage: eventsOf(endpoint, id).filter((event) => event.type === 'usage'),
          progress: eventsOf(endpoint, id).flatMap((event) =>
            event.type === 'progress' ? [(event.data as { message: string }).message] : [],
          ),
        });
        const untouched = { status: 'completed', usage: [], progress: ['my own progress'] };
        expect({ spoolVictim: outcome(spoolVictim), stopVictim: outcome(stopVictim) }).toEqual({
          spoolVictim: untouched,
          stopVictim: untouched,
        });
        expect(service!.output()).toContain(`session ${spoolVictim}: its spool holds a record its supervisor did not write`);
      },
    ),
    60_000,
  );

  it(
    'leaves no process of the tree alive after a kill, one that left the process group (setsid) included',
    withServiceOutput(
      () => [service],
      async () => {
        const endpoint = receiver.endpoint();
        const id = await spawn(endpoint, 'escaper');
        await endpoint.waitFor(() => lines(eventsOf(endpoint, id)).includes('ready'));
        const escaped = Number(
          /^escaped (\d+)$/.exec(lines(eventsOf(endpoint, id)).find((line) => line.startsWith('escaped ')) ?? '')?.[1],
        );
        expect(readFileSync(`/proc/${escaped}/cmdline`, 'utf8')).toBe('sleep\u00001001\u0000');

        const killed = await request('POST', `${service!.url}/orchestrator/sessions/${id}/kill`, { token: key });
        try {
          expect(killed.body).toEqual({ session_id: id, status: 'killed' });
          // Answered once the whole tree is gone: nothing of it is left, wherever it was re-parented.
          expect(liveProcesses().filter((info) => info.pid === escaped || sessionOf(info.pid) === id)).toEqual([]);
        } finally {
          if (liveProcesses().some((info) => info.pid === escaped)) process.kill(escaped, 'SIGKILL');
        }
      },
    ),
    30_000,
  );

  it(
    'starts an agent with no descriptor but stdin, stdout and stderr',
    withServiceOutput(
      () => [service],
      async () => {
        const endpoint = receiver.endpoint();
        const id = await spawn(endpoint, 'fds');
        await ended(endpoint, id);
        // The shell that runs the script holds the script open itself; anything else would have come from the supervisor.
        const fds = lines(eventsOf(endpoint, id)).filter((line) => !line.endsWith('/agent.sh'));
        expect(fds.map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual(['fd 0', 'fd 1', 'fd 2']);
        expect(fds[0]).toBe('fd 0 /dev/null');
      },
    ),
    30_000,
  );
});

/** The session a process belongs to: agents and their children inherit MOSAIC_SESSION_ID. */
function sessionOf(pid: number): string | undefined {
  try {
    return /(?:^|\0)MOSAIC_SESSION_ID=([^\0]*)/.exec(readFileSync(`/proc/${pid}/environ`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}
