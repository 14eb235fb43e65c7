import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../../../test/support/eventually';
import type { EventFields, SessionEnd } from '../store/session-store';
import type { AgentOutputParser, AgentVerdict } from './adapters/agent-adapter';
import { commandAdapter } from './adapters/command.adapter';
import { logMessage } from './agent-output';
import { AGENT_ERROR, AGENT_LOST_ERROR, AGENT_STALLED_ERROR, AgentSession, type AgentLauncher, type SessionEvents } from './agent-session';
import { liveProcessGroupMembers } from './process-group';
import type { SupervisorExit } from './spool-reader';
import { SupervisedAgent, type AgentSpec } from './supervised-agent';

type RecordedEvent = EventFields & { sequence: number; position?: number };

/** What SessionEventLog does, in memory: numbers the events in the order they come, the end last. */
function recordEvents(): SessionEvents & { events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  let ended = false;
  return {
    events,
    comingBytes: 0,
    emit: (fields, position) => {
      if (!ended) events.push({ ...fields, sequence: events.length + 1, ...(position !== undefined && { position }) });
    },
    end: async (end: SessionEnd) => {
      if (ended) return undefined;
      ended = true;
      const data = { ...(end.exitCode !== undefined && { exit_code: end.exitCode }), ...(end.error !== undefined && { error: end.error }) };
      events.push({ type: 'status', status: end.status, data, sequence: events.length + 1 });
      return undefined;
    },
    settled: () => Promise.resolve(),
  };
}

const SPOOL_MAX_BYTES = 2 * 1024 * 1024;
const commandParser = () => ({ parser: commandAdapter.parser({}, { kind: 'command' }) });
const KEY = randomBytes(32);

function agentSessionFor(
  options: {
    linesPerSecond?: number;
    room?: () => boolean;
    timeoutMs?: number;
    parser?: AgentOutputParser;
    stallTimeoutMs?: number;
    exitAfterResultMs?: number;
  } = {},
) {
  const metrics = { logLineDropped: jest.fn(), spoolRecordRejected: jest.fn() };
  const logger = { warn: jest.fn(), error: jest.fn() };
  const session = new AgentSession(randomUUID(), {
    node: 'node-a',
    timeoutMs: options.timeoutMs ?? 20_000,
    spoolMaxBytes: SPOOL_MAX_BYTES,
    logLinesPerSecond: options.linesPerSecond ?? 1000,
    delivery: { hasRoom: options.room ?? (() => true) },
    metrics,
    logger,
    stallTimeoutMs: options.stallTimeoutMs ?? 600_000,
    cancelGraceMs: 1_000,
    ...(options.exitAfterResultMs !== undefined && { exitAfterResultMs: options.exitAfterResultMs }),
  });
  return { session, metrics, logger };
}

let dirs: string[] = [];
const agents: SupervisedAgent[] = [];

/** A work directory and a spool directory for one session, removed after the test. */
async function sessionDirs(): Promise<{ cwd: string; spool: string }> {
  const root = await mkdtemp(join(tmpdir(), 'agent-session-spec-'));
  dirs.push(root);
  const spool = join(root, 'spool');
  await mkdir(spool, { mode: 0o700 });
  return { cwd: root, spool };
}

function spec(command: string, cwd: string, timeoutMs = 20_000): AgentSpec {
  return { command, cwd, env: { PATH: '/usr/local/bin:/usr/bin:/bin' }, timeoutMs, maxSpoolBytes: SPOOL_MAX_BYTES, key: KEY };
}

/** Starts the agent; tracked ones are killed and released after the test (one that a test detaches is released by whoever adopts it). */
function launcher(command: string, dirsOf: { cwd: string; spool: string }, timeoutMs?: number, tracked = true): AgentLauncher {
  return async (handlers) => {
    const agent = await SupervisedAgent.start(dirsOf.spool, spec(command, dirsOf.cwd, timeoutMs), handlers);
    if (tracked) agents.push(agent);
    return agent;
  };
}

afterEach(async () => {
  for (const agent of agents.splice(0)) {
    await agent.kill();
    await agent.release();
  }
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  dirs = [];
});

/** Runs `command` as a session's agent to its end. */
async function runToEnd(command: string, options: Parameters<typeof agentSessionFor>[0] = {}) {
  const where = await sessionDirs();
  const recorder = recordEvents();
  const { session, metrics, logger } = agentSessionFor(options);
  await session.start(recorder, launcher(command, where, options.timeoutMs), options.parser ? { parser: options.parser } : commandParser());
  await session.whenEnded();
  return { events: recorder.events, metrics, logger };
}

/** Starts `command`, waits for its first output line, then lets `act` stop it; returns the events and how long the stop took. */
async function stopOnceStarted(command: string, act: (session: AgentSession) => Promise<void>) {
  const where = await sessionDirs();
  const recorder = recordEvents();
  const { session } = agentSessionFor();
  await session.start(recorder, launcher(command, where), commandParser());
  await eventually(() => expect(recorder.events.map((event) => event.type)).toContain('log'), 5_000);
  const pgid = session.agentPid as number;
  const started = Date.now();
  await act(session);
  return { events: recorder.events, tookMs: Date.now() - started, alive: await liveProcessGroupMembers(pgid) };
}

function usageSums(events: RecordedEvent[]): { reports: number; input_tokens: number; output_tokens: number } {
  const usage = events.flatMap((event) => (event.type === 'usage' ? [event.data as { input_tokens: number; output_tokens: number }] : []));
  return {
    reports: usage.length,
    input_tokens: usage.reduce((sum, data) => sum + data.input_tokens, 0),
    output_tokens: usage.reduce((sum, data) => sum + data.output_tokens, 0),
  };
}

function logLines(events: RecordedEvent[]): { stream: string; line: string }[] {
  return events.flatMap((event) => (event.type === 'log' ? [event.data as { stream: string; line: string }] : []));
}

/** Resolves once the supervisor has recorded the agent's exit (the last record of its spool). */
async function waitForExitRecord(spool: string): Promise<void> {
  await eventually(async () => {
    const last = (await readdir(spool))
      .filter((name) => name.startsWith('spool.'))
      .sort()
      .at(-1);
    const tail = last === undefined ? '' : (await readFile(join(spool, last))).subarray(-200).toString('latin1');
    expect(tail).toMatch(/ X [^\n]*\n$/);
  }, 5_000);
}

/** Runs `command` under a supervisor that nobody reads, to its end: all it printed waits in the spool. */
async function runWhileNobodyReads(command: string, where: { cwd: string; spool: string }): Promise<void> {
  const ignore = () => undefined;
  const agent = await SupervisedAgent.start(where.spool, spec(command, where.cwd), {
    onLine: ignore,
    onDropped: ignore,
    onError: ignore,
    onRejected: ignore,
    beforeDelete: () => Promise.resolve(),
  });
  await agent.detach();
  await waitForExitRecord(where.spool);
}

/** What a later life of the node makes of that spool: the session adopted and followed to its end. */
async function adoptToEnd(where: { spool: string }, linesPerSecond: number): Promise<RecordedEvent[]> {
  const { session } = agentSessionFor({ linesPerSecond });
  const recorder = recordEvents();
  await session.resume(recorder, (handlers) => SupervisedAgent.adopt(where.spool, 0, KEY, handlers), commandParser());
  await session.whenEnded();
  await session.release();
  return recorder.events;
}

const trapsTerm = `trap 'echo stopping; exit 0' TERM; echo ready; (sleep 30) & while :; do sleep 0.05; done`;
const ignoresTerm = `trap '' TERM; echo ready; (trap '' TERM; sleep 30) & while :; do sleep 0.05; done`;

const printProgress = (count: number) =>
  `i=1; while [ $i -le ${count} ]; do echo "{\\"type\\":\\"progress\\",\\"message\\":\\"$i\\"}"; i=$((i+1)); done`;
const printUsage = (count: number) =>
  `i=1; while [ $i -le ${count} ]; do echo "{\\"type\\":\\"usage\\",\\"input_tokens\\":1,\\"output_tokens\\":$i}"; i=$((i+1)); done`;
const printLogLines = (count: number) => `i=1; while [ $i -le ${count} ]; do echo "line $i"; i=$((i+1)); done`;

describe('AgentSession', () => {
  it('turns every line into an event carrying its place in the spool, then the exit into the terminal status', async () => {
    const { events } = await runToEnd(`${printLogLines(3)}; echo oops >&2; exit 3`);

    expect(events).toEqual([
      { type: 'status', status: 'running', data: { node: 'node-a' }, sequence: 1 },
      { type: 'log', data: { stream: 'stdout', line: 'line 1' }, sequence: 2, position: 1 },
      { type: 'log', data: { stream: 'stdout', line: 'line 2' }, sequence: 3, position: 2 },
      { type: 'log', data: { stream: 'stdout', line: 'line 3' }, sequence: 4, position: 3 },
      { type: 'log', data: { stream: 'stderr', line: 'oops' }, sequence: 5, position: 4 },
      { type: 'status', status: 'failed', data: { exit_code: 3, error: 'the agent exited with code 3' }, sequence: 6 },
    ]);
  });

  it('holds a flood of progress lines to the rate limit, the latest last, with gapless sequences', async () => {
    const { events } = await runToEnd(printProgress(2000), { linesPerSecond: 20 });

    const progress = events.filter((event) => event.type === 'progress');
    // One second's burst, a few more while the agent runs; not 2000.
    expect(progress.length).toBeLessThan(60);
    expect(progress.at(-1)).toMatchObject({ data: { message: '2000' }, position: 2000 });
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'completed' });
  });

  it('turns usage lines into usage events, and a usage line the API would refuse into a log line', async () => {
    const refused = '{"type":"usage","input_tokens":-5}';
    const { events } = await runToEnd(
      `echo '{"type":"usage","input_tokens":1200,"output_tokens":300,"cost_usd":0.0081,"model":"sample-model-1"}'; echo '${refused}'; echo '{"type":"usage","output_tokens":100}'`,
    );

    expect(events).toEqual([
      { type: 'status', status: 'running', data: { node: 'node-a' }, sequence: 1 },
      {
        type: 'usage',
        status: 'running',
        data: { input_tokens: 1200, output_tokens: 300, cost_usd: 0.0081, model: 'sample-model-1' },
        sequence: 2,
        position: 1,
      },
      { type: 'log', data: { stream: 'stdout', line: refused }, sequence: 3, position: 2 },
      { type: 'usage', status: 'running', data: { output_tokens: 100 }, sequence: 4, position: 3 },
      { type: 'status', status: 'completed', data: { exit_code: 0 }, sequence: 5 },
    ]);
  });

  it('drops records and ignores stop requests its supervisor and this node did not write, counting and logging them', async () => {
    // The agent runs in the directory above its spool: it writes there as another agent of the same uid could.
    const forgedUsage = `${'0'.repeat(32)} 2 1700000000000 O {"type":"usage","cost_usd":2}`;
    const { events, metrics, logger } = await runToEnd(
      `echo ready; echo '${forgedUsage}' >> spool/spool.000001; echo 'kill' >> spool/stop; kill -USR1 $PPID; sleep 0.3; echo done`,
    );

    expect(events.filter((event) => event.type === 'usage')).toEqual([]);
    expect(logLines(events)).toEqual([
      { stream: 'stdout', line: 'ready' },
      { stream: 'stdout', line: 'done' },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'completed', data: { exit_code: 0 } });
    expect(metrics.spoolRecordRejected).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('its spool holds a record its supervisor did not write'));
  });

  it('adds up a flood of usage lines held to the rate limit: fewer events, the same sums', async () => {
    const { events } = await runToEnd(printUsage(2000), { linesPerSecond: 20 });

    const usage = events.filter((event) => event.type === 'usage');
    expect(usage.length).toBeLessThan(60);
    expect(usageSums(events)).toEqual({ reports: usage.length, input_tokens: 2000, output_tokens: (2000 * 2001) / 2 });
    expect(usage.at(-1)).toMatchObject({ position: 2000 });
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
  });

  it('while its callbacks cannot be delivered, drops and counts log lines, coalesces progress, and still ends with its terminal status', async () => {
    const { events, metrics, logger } = await runToEnd(
      `${printLogLines(50)}; ${printProgress(3)}; echo '{"type":"result","summary":"done"}'`,
      {
        room: () => false,
      },
    );

    expect(events.map(({ type, status, data }) => ({ type, status, data }))).toEqual([
      { type: 'status', status: 'running', data: { node: 'node-a' } },
      {
        type: 'log',
        data: {
          stream: 'stderr',
          line: "orchestrator: 50 log line(s) dropped (0 over the limit of 1000 a second, 50 while the session's callbacks could not be delivered)",
        },
      },
      { type: 'progress', status: 'running', data: { message: '3' } },
      { type: 'result', status: 'running', data: { summary: 'done' } },
      { type: 'status', status: 'completed', data: { exit_code: 0 } },
    ]);
    expect(metrics.logLineDropped.mock.calls).toEqual(Array(50).fill(['queue_full']));
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(/callbacks are not being delivered/);
  });

  it('cancels an agent that stops on SIGTERM well before the grace, its whole tree gone', async () => {
    const { events, tookMs, alive } = await stopOnceStarted(trapsTerm, (session) => session.end('cancel', 10_000));

    expect(tookMs).toBeLessThan(3_000);
    expect(alive).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'cancelled', data: { exit_code: 0 } });
  });

  it('SIGKILLs an agent that ignores SIGTERM once the grace is over', async () => {
    const { events, tookMs, alive } = await stopOnceStarted(ignoresTerm, (session) => session.end('cancel', 1_000));

    expect(tookMs).toBeGreaterThanOrEqual(1_000);
    expect(tookMs).toBeLessThan(2_500);
    expect(alive).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'cancelled' });
  });

  it('does not wait for the grace when a kill follows a cancel; the first request names the status', async () => {
    const { events, tookMs, alive } = await stopOnceStarted(ignoresTerm, async (session) => {
      const cancel = session.end('cancel', 20_000);
      await sleep(200);
      await session.end('kill');
      await cancel;
    });

    expect(tookMs).toBeLessThan(3_000);
    expect(alive).toEqual([]);
    expect(events.filter((event) => event.type === 'status').map((event) => event.status)).toEqual(['running', 'cancelled']);
  });

  it('kills an agent past its time limit and says so', async () => {
    const { events } = await runToEnd('echo started; sleep 30', { timeoutMs: 300 });

    expect(events.at(-1)).toMatchObject({
      type: 'status',
      status: 'failed',
      data: { error: 'the session exceeded its time limit of 300 ms and was killed' },
    });
  });

  describe('(v3) an agent an adapter reads', () => {
    /** Logs every line; `said: succeeded` or `said: failed` is the agent's final word. */
    function verdictParser(): AgentOutputParser {
      let verdict: AgentVerdict | undefined;
      return {
        parse: (stream, line) => {
          if (line === 'said: succeeded') verdict = { succeeded: true };
          if (line === 'said: failed') verdict = { succeeded: false, message: 'it went wrong' };
          return [logMessage(stream, line)];
        },
        get verdict() {
          return verdict;
        },
      };
    }

    it('is cancelled, agent_stalled, once silent for its stall timeout, and not before', async () => {
      const started = Date.now();
      const { events } = await runToEnd('echo one; sleep 0.4; echo two; sleep 30', { stallTimeoutMs: 700 });

      expect(Date.now() - started).toBeGreaterThanOrEqual(1_100);
      expect(logLines(events).map((log) => log.line)).toEqual(['one', 'two']);
      expect(events.at(-1)).toMatchObject({ type: 'status', status: 'cancelled', data: { error: AGENT_STALLED_ERROR } });
    });

    it('ends failed, agent_error, when it said it failed, though it exited 0', async () => {
      const { events } = await runToEnd('echo "said: failed"; exit 0', { parser: verdictParser() });

      expect(events.at(-1)).toMatchObject({ type: 'status', status: 'failed', data: { error: AGENT_ERROR, exit_code: 0 } });
    });

    it('ends completed when it said it succeeded and exited 0', async () => {
      const { events } = await runToEnd('echo "said: succeeded"; exit 0', { parser: verdictParser() });

      expect(events.at(-1)).toMatchObject({ type: 'status', status: 'completed', data: { exit_code: 0 } });
    });

    it('is killed when it does not exit after its final result, and keeps that result', async () => {
      const started = Date.now();
      const { events } = await runToEnd('echo "said: succeeded"; sleep 30', { parser: verdictParser(), exitAfterResultMs: 300 });

      expect(Date.now() - started).toBeLessThan(5_000);
      expect(events.at(-1)).toMatchObject({ type: 'status', status: 'completed' });
    });
  });

  it('ends a session stopped before its agent started without starting one', async () => {
    const where = await sessionDirs();
    const recorder = recordEvents();
    const { session } = agentSessionFor();
    const kill = session.end('kill');
    await session.start(recorder, launcher(`echo started > ${join(where.cwd, 'marker')}`, where), commandParser());
    await kill;
    await session.whenEnded();

    expect(session.agentPid).toBeUndefined();
    expect(recorder.events).toEqual([{ type: 'status', status: 'killed', data: {}, sequence: 1 }]);
    expect(await readdir(where.spool)).toEqual([]);
  });

  describe('taken over by a later life of the node', () => {
    it('goes on after the last line an event was stored for, and reports the exit recorded meanwhile', async () => {
      const where = await sessionDirs();
      const first = agentSessionFor();
      const before = recordEvents();
      await first.session.start(
        before,
        launcher(`${printLogLines(3)}; sleep 0.5; ${printLogLines(2)}; exit 0`, where, undefined, false),
        commandParser(),
      );
      await eventually(() => expect(before.events.filter((event) => event.type === 'log').length).toBeGreaterThanOrEqual(3), 5_000);
      await first.session.detach();
      const position = before.events.at(-1)!.position!;
      expect(position).toBe(3);
      await sleep(1_000);

      const later = agentSessionFor();
      const after = recordEvents();
      await later.session.resume(after, (handlers) => SupervisedAgent.adopt(where.spool, position, KEY, handlers), commandParser());
      await later.session.whenEnded();
      await later.session.release();

      expect(after.events.map(({ type, status, data, position: at }) => ({ type, status, data, at }))).toEqual([
        { type: 'log', status: undefined, data: { stream: 'stdout', line: 'line 1' }, at: 4 },
        { type: 'log', status: undefined, data: { stream: 'stdout', line: 'line 2' }, at: 5 },
        { type: 'status', status: 'completed', data: { exit_code: 0 }, at: undefined },
      ]);
    });

    it('leaves the exit it reads while it lets go of the agent to the later life: it writes no end of its own', async () => {
      // The supervisor's exit is read, and the supervisor told to go, just as the node shuts down: the session ends
      // only once the supervisor is gone, after the node has let go. (A real supervisor goes within milliseconds.)
      let supervisorGone!: (exit: SupervisorExit) => void;
      const agent = {
        finished: new Promise<SupervisorExit>((resolve) => (supervisorGone = resolve)),
        detach: async () => undefined,
      } as unknown as SupervisedAgent;
      const { session } = agentSessionFor();
      const recorder = recordEvents();
      await session.start(recorder, async () => agent, commandParser());
      await session.detach();
      supervisorGone({ code: 0, signal: null, stop: null });
      await session.whenEnded();

      expect(recorder.events.map(({ type, status }) => [type, status])).toEqual([['status', 'running']]);
      expect(session.status).toBe('running');
    });

    it('stores the usage it holds back when it lets go of the agent; the later life counts none of it again', async () => {
      const where = await sessionDirs();
      const first = agentSessionFor({ room: () => false });
      const before = recordEvents();
      await first.session.start(
        before,
        launcher(`${printUsage(3)}; echo ready; sleep 0.5; ${printUsage(2)}; exit 0`, where, undefined, false),
        commandParser(),
      );
      // "ready", dropped for want of room, was read after the usage lines.
      await eventually(() => expect(first.metrics.logLineDropped).toHaveBeenCalled(), 5_000);
      await first.session.detach();

      expect(before.events.filter((event) => event.type === 'usage')).toEqual([
        { type: 'usage', status: 'running', data: { input_tokens: 3, output_tokens: 6 }, sequence: expect.any(Number), position: 3 },
      ]);
      const position = Math.max(...before.events.map((event) => event.position ?? 0));
      const later = agentSessionFor();
      const after = recordEvents();
      await later.session.resume(after, (handlers) => SupervisedAgent.adopt(where.spool, position, KEY, handlers), commandParser());
      await later.session.whenEnded();
      await later.session.release();

      expect(usageSums([...before.events, ...after.events])).toEqual({ reports: 3, input_tokens: 5, output_tokens: 6 + 3 });
    });

    it('holds a backlog to the rate limit as of when the agent printed it: a steady agent loses nothing, a burst is cut as it would have been live', async () => {
      const where = await sessionDirs();
      // 30 lines over 3 s (10 a second, under the limit of 20), then 100 at once; nobody reads until the end.
      await runWhileNobodyReads(`i=1; while [ $i -le 30 ]; do echo "steady $i"; sleep 0.1; i=$((i+1)); done; ${printLogLines(100)}`, where);
      const events = await adoptToEnd(where, 20);

      const lines = logLines(events).map((line) => line.line);
      expect(lines.filter((line) => line.startsWith('steady'))).toEqual(Array.from({ length: 30 }, (_, index) => `steady ${index + 1}`));
      const burst = lines.filter((line) => line.startsWith('line '));
      // About one second's worth of tokens; the rest dropped and counted, as live.
      expect(burst.length).toBeGreaterThan(10);
      expect(burst.length).toBeLessThan(40);
      expect(lines.at(-1)).toMatch(
        new RegExp(`^orchestrator: ${100 - burst.length} log line\\(s\\) dropped \\(${100 - burst.length} over the limit of 20 a second`),
      );
    });

    it('says how many lines a spool past its limit could not keep while nobody read it', async () => {
      const where = await sessionDirs();
      // About 3 MiB of output against a 2 MiB spool, printed before anyone reads it.
      await runWhileNobodyReads(`yes "$(head -c 1023 /dev/zero | tr '\\0' x)" | head -n 3072; echo done`, where);
      const events = await adoptToEnd(where, 100_000);

      const lines = logLines(events);
      const kept = lines.filter((line) => line.stream === 'stdout');
      const notKept = lines.filter((line) => line.stream === 'stderr');
      expect(notKept).toHaveLength(1);
      const dropped = Number(
        /^orchestrator: (\d+) line\(s\) of output were not kept: the session's spool reached its limit of 2097152 bytes/.exec(
          notKept[0]!.line,
        )?.[1],
      );
      // 3 MiB in 1 KiB lines, then "done": every line was either kept or counted.
      expect(kept.length + dropped).toBe(3072 + 1);
      expect(dropped).toBeGreaterThan(0);
      expect(kept.at(-1)).toEqual({ stream: 'stdout', line: 'done' });
      expect(events.at(-1)).toMatchObject({ type: 'status', status: 'completed' });
    });

    it('ends failed agent_lost when there is no supervisor to take over', async () => {
      const where = await sessionDirs();
      const { session } = agentSessionFor();
      const recorder = recordEvents();
      await session.resume(recorder, (handlers) => SupervisedAgent.adopt(where.spool, 0, KEY, handlers), commandParser());
      await session.whenEnded();

      expect(recorder.events).toEqual([{ type: 'status', status: 'failed', data: { error: AGENT_LOST_ERROR }, sequence: 1 }]);
    });

    it('ends failed agent_lost, its strays killed, when the supervisor died without recording the exit', async () => {
      const where = await sessionDirs();
      const { session } = agentSessionFor();
      const recorder = recordEvents();
      await session.start(recorder, launcher(`echo ready; (sleep 30) & sleep 30`, where), commandParser());
      await eventually(() => expect(recorder.events.map((event) => event.type)).toContain('log'), 5_000);
      const pgid = session.agentPid!;
      const supervisorPid = agents.at(-1)!.identity.pid;
      process.kill(supervisorPid, 'SIGKILL');
      await session.whenEnded();

      expect(recorder.events.at(-1)).toMatchObject({ type: 'status', status: 'failed', data: { error: AGENT_LOST_ERROR } });
      expect(await liveProcessGroupMembers(pgid)).toEqual([]);
    });
  });
});
