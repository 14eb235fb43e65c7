import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { eventually } from '../../../../test/support/eventually';
import { liveProcessGroupMembers } from './process-group';

/** Runs `script` as the leader of a new process group; resolves with its first stdout line. */
async function group(script: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(script, { shell: true, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, line: chunk.toString().trim() };
}

describe('liveProcessGroupMembers', () => {
  const started: ChildProcess[] = [];
  afterEach(() => {
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  });

  it('finds every live member of a group, and none once it is killed', async () => {
    const { child } = await group('sleep 60 & sleep 60 & echo started; wait');
    started.push(child);
    const members = await liveProcessGroupMembers(child.pid!);
    expect(members).toContain(child.pid);
    expect(members.length).toBeGreaterThanOrEqual(3);

    process.kill(-child.pid!, 'SIGKILL');
    await once(child, 'exit');
    await eventually(async () => expect(await liveProcessGroupMembers(child.pid!)).toEqual([]), 2_000);
  });

  it('leaves out a zombie nobody reaps', async () => {
    // The setsid'd child leads a group of its own and exits; its parent, exec'd into sleep, never reaps it.
    const { child, line } = await group('setsid sh -c "exit 0" & echo $!; exec sleep 60');
    started.push(child);
    const zombie = Number(line);
    await eventually(() => expect(readFileSync(`/proc/${zombie}/stat`, 'utf8')).toContain(`) Z ${child.pid} ${zombie} `), 5_000);
    expect(await liveProcessGroupMembers(zombie)).toEqual([]);
  });
});
