import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { killProcessGroupAndWait, liveProcessGroupMembers, waitForProcessGroupToEnd } from './process-group';

jest.mock('node:fs/promises', () => {
  const actual = jest.requireActual<typeof import('node:fs/promises')>('node:fs/promises');
  return { ...actual, readdir: jest.fn(actual.readdir) };
});
const procScans = jest.mocked(readdir);

/** Runs `script` as the leader of a new process group; its first stdout line, if `firstLine`, is awaited. */
async function group(script: string, firstLine = false): Promise<{ child: ChildProcess; line?: string }> {
  const child = spawn(script, { shell: true, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  await once(child, 'spawn');
  if (!firstLine) return { child };
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, line: chunk.toString().trim() };
}

describe('process groups', () => {
  const started: ChildProcess[] = [];
  beforeEach(() => procScans.mockClear());
  afterEach(() => {
    jest.restoreAllMocks();
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  });

  it('takes a group that is already gone, the common case of an agent that exited, without reading /proc', async () => {
    const { child } = await group('exit 0');
    await once(child, 'exit');
    await killProcessGroupAndWait(child.pid!);
    expect(procScans).not.toHaveBeenCalled();
  });

  it('kills a whole tree and resolves once none of it is alive', async () => {
    const { child } = await group('sleep 60 & sleep 60 & echo started; wait', true);
    started.push(child);
    expect((await liveProcessGroupMembers(child.pid!)).length).toBeGreaterThanOrEqual(3);
    await killProcessGroupAndWait(child.pid!);
    expect(await liveProcessGroupMembers(child.pid!)).toEqual([]);
  });

  it('counts a group whose only member is a zombie nobody reaps as gone, by reading /proc', async () => {
    // The setsid'd child leads a group of its own and exits; its parent, exec'd into sleep, never reaps it.
    const { child, line } = await group('setsid sh -c "exit 0" & echo $!; exec sleep 60', true);
    started.push(child);
    const zombie = Number(line);
    while (!readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(`) Z ${child.pid} ${zombie} `)) await sleep(5);
    await killProcessGroupAndWait(zombie, 2_000);
    expect(procScans).toHaveBeenCalled();
  });

  it('rejects, naming the survivors, when a member outlives the timeout', async () => {
    const { child } = await group('sleep 60', false);
    started.push(child);
    const kill = process.kill.bind(process);
    jest.spyOn(process, 'kill').mockImplementation((pid, signal) => (signal === 'SIGKILL' ? true : kill(pid, signal)));
    const begun = Date.now();
    await expect(killProcessGroupAndWait(child.pid!, 300)).rejects.toThrow(`process group ${child.pid} still has live processes`);
    expect(Date.now() - begun).toBeGreaterThanOrEqual(300);
  });

  it('waits for a group to end by itself without signalling it', async () => {
    const { child } = await group('sleep 0.3');
    started.push(child);
    expect(await waitForProcessGroupToEnd(child.pid!, 50)).toBe(false);
    expect(child.exitCode).toBeNull();
    expect(await waitForProcessGroupToEnd(child.pid!, 5_000)).toBe(true);
  });
});
