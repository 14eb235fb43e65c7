import { readdirSync, readFileSync } from 'node:fs';
import { eventually } from './eventually';

/** One line of the OS process table, read from /proc/<pid>/stat. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** Kernel state letter: R, S, D, Z (zombie), ... */
  state: string;
  command: string;
}

/**
 * Every process on the machine that has not exited. Zombies are left out: they have
 * exited and only wait to be reaped, and on machines whose PID 1 does not reap
 * orphans they stay in /proc indefinitely.
 */
export function liveProcesses(): ProcessInfo[] {
  const processes: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    const info = {
      pid: Number(name),
      command: stat.slice(stat.indexOf('(') + 1, close),
      state: fields[0],
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
    };
    if (info.state !== 'Z' && info.state !== 'X') processes.push(info);
  }
  return processes;
}

/** Live descendants of `pid` (children, their children, ...), not including `pid` itself; `table` to reuse one read of the process table. */
export function liveDescendants(pid: number, table: readonly ProcessInfo[] = liveProcesses()): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  let parents = new Set([pid]);
  while (parents.size > 0) {
    const children = table.filter((info) => parents.has(info.ppid));
    found.push(...children);
    parents = new Set(children.map((info) => info.pid));
  }
  return found;
}

/** Live processes whose command line mentions `text` (a data directory, say). */
export function liveProcessesMentioning(text: string): ProcessInfo[] {
  return liveProcesses().filter((info) => {
    try {
      return readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').includes(text);
    } catch {
      return false;
    }
  });
}

/** Live members of process group `pgid`. */
export function liveProcessGroup(pgid: number): ProcessInfo[] {
  return liveProcesses().filter((info) => info.pgid === pgid);
}

export function isAlive(pid: number): boolean {
  return liveProcesses().some((info) => info.pid === pid);
}

/** Resolves once none of `pids` is alive; rejects naming the survivors after `timeoutMs`. */
export async function waitForNoProcesses(pids: readonly number[], timeoutMs: number): Promise<void> {
  const wanted = new Set(pids);
  await eventually(() => {
    const survivors = liveProcesses().filter((info) => wanted.has(info.pid));
    if (survivors.length > 0)
      throw new Error(`processes still alive: ${survivors.map((info) => `${info.pid} (${info.command}, ${info.state})`).join(', ')}`);
  }, timeoutMs);
}
