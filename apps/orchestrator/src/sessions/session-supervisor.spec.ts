import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestTracing } from '@mosaic/observability';
import { Session } from './session';
import { SessionSupervisor } from './session-supervisor';

/** Runs `command` as a session's agent to its end, with a delivery that records what it is given and has room while `room()` says so. */
async function supervise(command: string, options: { linesPerSecond: number; room?: () => boolean }) {
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
  try {
    await supervisor.start();
    await supervisor.whenEnded();
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
  return { events, metrics, logger };
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
