import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_INTERVAL_MS = 10;

/**
 * Pids of the live processes in process group `pgid`, read from /proc. Zombies are
 * left out: they have already exited and only wait for a parent to reap them (for
 * orphaned grandchildren that parent is PID 1, which we do not control).
 */
export async function liveProcessGroupMembers(pgid: number): Promise<number[]> {
  const entries = await readdir('/proc');
  const members: number[] = [];
  await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
        // The command name (field 2) may contain spaces and parentheses; fields after its last ')' are fixed.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const state = fields[0];
        if (Number(fields[2]) === pgid && state !== 'Z' && state !== 'X') members.push(Number(name));
      }),
  );
  return members;
}

/** Sends `signal` to every process in the group; a group that is already gone is not an error. */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export function killProcessGroup(pgid: number): void {
  signalProcessGroup(pgid, 'SIGKILL');
}

/**
 * Kills the group and resolves once /proc shows none of its processes alive. A member
 * that forks while the signal is being delivered lands in the same group, so the
 * signal is repeated until the group is empty. Rejects if a process outlives
 * `timeoutMs` (one stuck in uninterruptible I/O), rather than hanging its caller.
 */
export async function killProcessGroupAndWait(pgid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    killProcessGroup(pgid);
    const alive = await liveProcessGroupMembers(pgid);
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`process group ${pgid} still has live processes ${alive.join(', ')} after SIGKILL`);
    await sleep(POLL_INTERVAL_MS);
  }
}
