import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventFields, SessionEnd } from '../store/session-store';
import { liveProcessGroupMembers } from './process-group';
import { SessionSupervisor, type SessionEvents } from './session-supervisor';

type RecordedEvent = EventFields & { sequence: number };

/** What SessionEventLog does, in memory: numbers the events in the order they come, the end last. */
function recordEvents(): SessionEvents & { events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  let ended = false;
  return {
    events,
    comingBytes: 0,
    emit: (fields) => {
      if (!ended) events.push({ ...fields, sequence: events.length + 1 });
    },
    end: async (end: SessionEnd) => {
      if (ended) return undefined;
      ended = true;
      const data = { ...(end.exitCode !== undefined && { exit_code: end.exitCode }), ...(end.error !== undefined && { error: end.error }) };
      events.push({ type: 'status', status: end.status, data, sequence: events.length + 1 });
      return undefined;
    },
  };
}

function supervisorFor(command: string, cwd: string, options: { linesPerSecond?: number; room?: () => boolean } = {}) {
  const metrics = { logLineDropped: jest.fn() };
  const logger = { warn: jest.fn(), error: jest.fn() };
  const supervisor = new SessionSupervisor(randomUUID(), {
    command,
    cwd,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    node: 'node-a',
    timeoutMs: 20_000,
    logLinesPerSecond: options.linesPerSecond ?? 1000,
    delivery: { hasRoom: options.room ?? (() => true) },
    metrics,
    logger,
  });
  return { supervisor, metrics, logger };
}

/** Runs `command` as a session's agent to its end, with a delivery that has room while `room()` says so. */
async function supervise(command: string, options: { linesPerSecond: number; room?: () => boolean }) {
  const cwd = await mkdtemp(join(tmpdir(), 'supervisor-spec-'));
  const recorder = recordEvents();
  const { supervisor, metrics, logger } = supervisorFor(command, cwd, options);
  try {
    await supervisor.start(recorder);
    await supervisor.whenEnded();
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
  return { events: recorder.events, metrics, logger };
}

/** Starts `command`, waits for its first output line, then lets `act` stop it; returns the events and how long the stop took. */
async function stopOnceStarted(command: string, act: (supervisor: SessionSupervisor) => Promise<void>) {
  const cwd = await mkdtemp(join(tmpdir(), 'supervisor-spec-'));
  const recorder = recordEvents();
  const { supervisor } = supervisorFor(command, cwd);
  try {
    await supervisor.start(recorder);
    while (!recorder.events.some((event) => event.type === 'log')) await new Promise((resolve) => setTimeout(resolve, 10));
    const pid = supervisor.pid as number;
    const started = Date.now();
    await act(supervisor);
    return { events: recorder.events, tookMs: Date.now() - started, alive: await liveProcessGroupMembers(pid) };
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

const trapsTerm = `trap 'echo stopping; exit 0' TERM; echo ready; (sleep 30) & while :; do sleep 0.05; done`;
const ignoresTerm = `trap '' TERM; echo ready; (trap '' TERM; sleep 30) & while :; do sleep 0.05; done`;

const printProgress = (count: number) => `i=1; while [ $i -le ${count} ]; do echo "{\\"type\\":\\"progress\\",\\"message\\":\\"$i\\"}"; i=$((i+1)); done`;
const printLogLines = (count: number) => `i=1; while [ $i -le ${count} ]; do echo "line $i"; i=$((i+1)); done`;

describe('SessionSupervisor', () => {
  it('holds a flood of progress lines to the rate limit, the latest last, with gapless sequences', async () => {
    const { events } = await supervise(printProgress(2000), { linesPerSecond: 20 });

    const progress = events.filter((event) => event.type === 'progress');
    // One second's burst, a few more while the agent runs; not 2000.
    expect(progress.length).toBeLessThan(60);
    expect(progress.at(-1)?.data).toEqual({ message: '2000' });
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'completed' });
  });

  it('while its callbacks cannot be delivered, drops and counts log lines, coalesces progress, and still ends with its terminal status', async () => {
    const { events, metrics, logger } = await supervise(`${printLogLines(50)}; ${printProgress(3)}; echo '{"type":"result","summary":"done"}'`, {
      linesPerSecond: 1000,
      room: () => false,
    });

    expect(events.map(({ type, status, data }) => ({ type, status, data }))).toEqual([
      { type: 'status', status: 'running', data: { node: 'node-a' } },
      { type: 'log', data: { stream: 'stderr', line: "orchestrator: 50 log line(s) dropped (0 over the limit of 1000 a second, 50 while the session's callbacks could not be delivered)" } },
      { type: 'progress', status: 'running', data: { message: '3' } },
      { type: 'result', status: 'running', data: { summary: 'done' } },
      { type: 'status', status: 'completed', data: { exit_code: 0 } },
    ]);
    expect(metrics.logLineDropped.mock.calls).toEqual(Array(50).fill(['queue_full']));
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(/callbacks are not being delivered/);
  });

  it('cancels an agent that stops on SIGTERM well before the grace, its whole tree gone', async () => {
    const { events, tookMs, alive } = await stopOnceStarted(trapsTerm, (supervisor) => supervisor.end('cancel', 10_000));

    expect(tookMs).toBeLessThan(3_000);
    expect(alive).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'cancelled' });
  });

  it('SIGKILLs an agent that ignores SIGTERM once the grace is over', async () => {
    const { events, tookMs, alive } = await stopOnceStarted(ignoresTerm, (supervisor) => supervisor.end('cancel', 1_000));

    expect(tookMs).toBeGreaterThanOrEqual(1_000);
    expect(tookMs).toBeLessThan(2_000);
    expect(alive).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'cancelled' });
  });

  it('does not wait for the grace when a kill follows a cancel; the first request names the status', async () => {
    const { events, tookMs } = await stopOnceStarted(ignoresTerm, async (supervisor) => {
      const cancel = supervisor.end('cancel', 20_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await supervisor.end('kill');
      await cancel;
    });

    expect(tookMs).toBeLessThan(3_000);
    expect(events.filter((event) => event.type === 'status').map((event) => event.status)).toEqual(['running', 'cancelled']);
  });

  it('ends a session stopped before its agent started without starting one', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'supervisor-spec-'));
    const recorder = recordEvents();
    const { supervisor } = supervisorFor(`echo started > ${join(cwd, 'marker')}`, cwd);
    const kill = supervisor.end('kill');
    await supervisor.start(recorder);
    await kill;
    await supervisor.whenEnded();

    expect(supervisor.pid).toBeUndefined();
    expect(recorder.events).toEqual([{ type: 'status', status: 'killed', data: {}, sequence: 1 }]);
    await rm(cwd, { recursive: true, force: true });
  });
});
