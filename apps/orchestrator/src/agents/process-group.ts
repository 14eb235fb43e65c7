import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';

const POLL_INTERVAL_MS = 10;
/** Scanning /proc costs tens of milliseconds of CPU on a busy machine, so a group that keeps answering is looked at less and less often. */
const MAX_SCAN_INTERVAL_MS = 200;
/**
 * How many times a group may still answer a signal before /proc is read. A group
 * answers while any member exists, zombies included: the leader's zombie goes once Node
 * reaps it and an orphan's once init does, usually within these few polls; one whose
 * reaper never comes (a PID 1 that does not reap) is told apart from a live process
 * only by /proc.
 */
const PROBES_BEFORE_SCAN = 3;

/**
 * /proc entries read between two turns of the event loop. Synchronous reads of these
 * tiny files cost a fifth of what a promise per file does, and in slices of this size
 * they hold the loop up for well under a millisecond each.
 */
const SCAN_SLICE = 64;

/**
 * Pids of the live processes in process group `pgid`, read from /proc. Zombies are
 * left out: they have already exited and only wait for a parent to reap them (for
 * orphaned grandchildren that parent is PID 1, which we do not control).
 */
export async function liveProcessGroupMembers(pgid: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const members: number[] = [];
  for (let start = 0; start < pids.length; start += SCAN_SLICE) {
    if (start > 0) await setImmediate();
    for (const pid of pids.slice(start, start + SCAN_SLICE)) {
      if (isLiveMember(pid, pgid)) members.push(Number(pid));
    }
  }
  return members;
}

function isLiveMember(pid: string, pgid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false; // exited since the directory was read
  }
  // The command name (field 2) may contain spaces and parentheses; fields after its last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  return Number(fields[2]) === pgid && state !== 'Z' && state !== 'X';
}

/**
 * Sends `signal` (0: none, only the check) to every process in the group; false if the
 * group has no process left, not even a zombie.
 */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    return false;
  }
}

/** Sends SIGKILL to every process in the group; a group that is already gone is not an error. */
export function killProcessGroup(pgid: number): void {
  signalProcessGroup(pgid, 'SIGKILL');
}

/**
 * Resolves with the group's live members at `deadline`, or with none as soon as it has
 * none. `signal` is sent before every look (0 to only look).
 */
async function liveMembersAt(pgid: number, deadline: number, signal: NodeJS.Signals | 0): Promise<number[]> {
  let scanInterval = POLL_INTERVAL_MS;
  for (let probe = 1; ; probe++) {
    if (!signalProcessGroup(pgid, signal)) return [];
    const scanned = probe > PROBES_BEFORE_SCAN || Date.now() >= deadline;
    if (scanned) {
      const alive = await liveProcessGroupMembers(pgid);
      if (alive.length === 0 || Date.now() >= deadline) return alive;
    }
    await sleep(Math.max(0, Math.min(scanned ? scanInterval : POLL_INTERVAL_MS, deadline - Date.now())));
    if (scanned) scanInterval = Math.min(scanInterval * 2, MAX_SCAN_INTERVAL_MS);
  }
}

/** Resolves true once no live process remains in the group, false if one is still alive after `timeoutMs`; signals nothing. */
export async function waitForProcessGroupToEnd(pgid: number, timeoutMs: number): Promise<boolean> {
  return (await liveMembersAt(pgid, Date.now() + timeoutMs, 0)).length === 0;
}

/**
 * Kills the group and resolves once none of its processes is alive. A member that
 * forks while the signal is being delivered lands in the same group, so the signal is
 * repeated until the group is empty. Rejects if a process outlives `timeoutMs` (one
 * stuck in uninterruptible I/O), rather than hanging its caller.
 */
export async function killProcessGroupAndWait(pgid: number, timeoutMs = 10_000): Promise<void> {
  const alive = await liveMembersAt(pgid, Date.now() + timeoutMs, 'SIGKILL');
  if (alive.length > 0) throw new Error(`process group ${pgid} still has live processes ${alive.join(', ')} after SIGKILL`);
}
