import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requestTracing } from '@mosaic/observability';
import { Session } from './session';
import { SessionSupervisor } from './session-supervisor';

/** Starts `command` as a session's agent, with a delivery that records what it is given and has room while `room()` says so. */
async function startSupervised(command: string, options: { linesPerSecond: number; room?: () => boolean }) {
  const cwd = await mkdtemp(join(tmpdir(), 'supervisor-spec-'));
  const events: CallbackEvent[] = [];
  const metrics = { logLineDropped: jest.fn() };
  const logger = { warn: jest.fn(), error: jest.fn() };
  const session = new Session({ id: randomUUID(), callback: { url: 'http://127.0.0.1:1/callbacks', token: 't', origin: requestTracing.currentOrigin() } });
  const supervisor = new SessionSupervisor(session, {
    command,
    cwd,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    timeoutMs: 20_000,
    logLinesPerSecond: options.linesPerSecond,
    delivery: { enqueue: (_target, event) => events.push(event), hasRoom: options.room ?? (() => true) },
    metrics,
    logger,
  });
  const cleanup = () => rm(cwd, { recursive: true, force: true });
  try {
    await supervisor.start();
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { supervisor, session, events, metrics, logger, cleanup };
}

/** Runs `command` as a session's agent to its end. */
async function supervise(command: string, options: { linesPerSecond: number; room?: () => boolean }) {
  const started = await startSupervised(command, options);
  try {
    await started.supervisor.whenEnded();
  } finally {
    await started.cleanup();
  }
  return started;
}

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
      { type: 'status', status: 'running', data: {} },
      { type: 'log', data: { stream: 'stderr', line: "orchestrator: 50 log line(s) dropped (0 over the limit of 1000 a second, 50 while the session's callbacks could not be delivered)" } },
      { type: 'progress', status: 'running', data: { message: '3' } },
      { type: 'result', status: 'running', data: { summary: 'done' } },
      { type: 'status', status: 'completed', data: { exit_code: 0 } },
    ]);
    expect(metrics.logLineDropped.mock.calls).toEqual(Array(50).fill(['queue_full']));
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(/callbacks are not being delivered/);
  });
});

/** Prints `ready` once its SIGTERM handling is in place, then works until stopped. */
const STOPS_ON_SIGTERM_WITH_3 = `trap 'echo stopping; exit 3' TERM; echo ready; while :; do sleep 0.05; done`;
const IGNORES_SIGTERM = `trap '' TERM; echo ready; while :; do sleep 0.05; done`;
/** Stops on SIGTERM itself, but leaves behind a child that ignores it. */
const LEAVES_A_DEAF_CHILD = `(trap '' TERM; sleep 60) & trap 'exit 0' TERM; echo ready; wait`;

async function startReady(command: string) {
  const started = await startSupervised(command, { linesPerSecond: 1000 });
  while (!started.events.some((event) => event.type === 'log' && (event.data as { line: string }).line === 'ready')) await sleep(5);
  return started;
}

describe('SessionSupervisor cancel', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  const started = async (command: string) => {
    const result = await startReady(command);
    cleanups.push(async () => {
      await result.supervisor.end('kill');
      await result.cleanup();
    });
    return result;
  };
  const terminalEvents = (events: CallbackEvent[]) => events.filter((event) => event.type === 'status' && event.status !== 'running');

  it('ends cancelled, well before the grace, an agent that stops on SIGTERM, whatever its exit code', async () => {
    const { supervisor, session, events } = await started(STOPS_ON_SIGTERM_WITH_3);
    const begun = Date.now();
    await supervisor.cancel(10_000);
    expect(Date.now() - begun).toBeLessThan(2_000);
    expect(session).toMatchObject({ status: 'cancelled', exitCode: 3 });
    expect(events).toContainEqual(expect.objectContaining({ type: 'log', data: { stream: 'stdout', line: 'stopping' } }));
    expect(terminalEvents(events)).toEqual([expect.objectContaining({ status: 'cancelled', data: { exit_code: 3 } })]);
  });

  it('SIGKILLs an agent that ignores SIGTERM when the grace ends, and answers only then', async () => {
    const { supervisor, session, events } = await started(IGNORES_SIGTERM);
    const begun = Date.now();
    await supervisor.cancel(500);
    expect(Date.now() - begun).toBeGreaterThanOrEqual(490);
    expect(Date.now() - begun).toBeLessThan(1_500);
    expect(session.status).toBe('cancelled');
    expect(session.exitCode).toBeUndefined();
    expect(terminalEvents(events)).toEqual([expect.objectContaining({ status: 'cancelled', data: {} })]);
  });

  it('gives what the agent left running the rest of the grace, then SIGKILLs it', async () => {
    const { supervisor, session } = await started(LEAVES_A_DEAF_CHILD);
    const begun = Date.now();
    await supervisor.cancel(600);
    expect(Date.now() - begun).toBeGreaterThanOrEqual(590);
    expect(session).toMatchObject({ status: 'cancelled', exitCode: 0 });
  });

  it('a kill during the grace SIGKILLs at once; the cancel, first, names the status', async () => {
    const { supervisor, session } = await started(IGNORES_SIGTERM);
    const cancelled = supervisor.cancel(10_000);
    await sleep(100);
    const begun = Date.now();
    await supervisor.end('kill');
    expect(Date.now() - begun).toBeLessThan(1_000);
    await cancelled;
    expect(session.status).toBe('cancelled');
  });

  it('is idempotent: a second cancel waits for the first one\'s end, a later one keeps the status', async () => {
    const { supervisor, session, events } = await started(IGNORES_SIGTERM);
    const begun = Date.now();
    const first = supervisor.cancel(500);
    await sleep(100);
    await Promise.all([first, supervisor.cancel(10_000)]);
    expect(Date.now() - begun).toBeLessThan(1_500);
    await supervisor.cancel(10_000);
    expect(session.status).toBe('cancelled');
    expect(terminalEvents(events)).toHaveLength(1);
  });

  it('leaves a session that already ended with its own status', async () => {
    const { supervisor, session } = await supervise('exit 0', { linesPerSecond: 1000 });
    await supervisor.cancel(10_000);
    expect(session.status).toBe('completed');
  });
});
