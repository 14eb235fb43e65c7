import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SupervisedAgent } from '../apps/orchestrator/src/agents/supervised-agent';
import { median, residentMegabytes } from './support';

export const SUPERVISOR_ROUNDS = 200;
/** Prints a line as soon as it runs, then waits to be killed: what is timed is the start. */
const AGENT = 'echo ready; exec sleep 30';

export interface SupervisorResult {
  /** spawn() called → the agent's first line in this process, under a supervisor (read from its spool). */
  readonly supervisedStartP50Ms: number;
  readonly supervisedStartP95Ms: number;
  /** The same for the agent spawned by this process directly, as before the supervisors (read from its pipe). */
  readonly directStartP50Ms: number;
  readonly directStartP95Ms: number;
  /** How long the synchronous part of a start holds this process's event loop, p50. */
  readonly supervisedBlockP50Ms: number;
  readonly directBlockP50Ms: number;
  /** A supervisor's resident memory while its agent runs. */
  readonly supervisorRssMb: number;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** One start under a supervisor: [ms to the first line, ms the loop was held, supervisor RSS]. */
async function supervisedStart(root: string, round: number): Promise<[number, number, number]> {
  const spool = path.join(root, `s${round}`);
  await mkdir(spool, { mode: 0o700 });
  let firstLine!: () => void;
  const read = new Promise<void>((resolve) => (firstLine = resolve));
  const began = performance.now();
  let blocked = 0;
  const starting = SupervisedAgent.start(
    spool,
    { command: AGENT, cwd: root, env: { PATH: '/usr/bin:/bin' }, timeoutMs: 0, maxSpoolBytes: 4 * 1024 * 1024, key: randomBytes(32) },
    {
      onLine: () => firstLine(),
      onDropped: () => undefined,
      onError: () => undefined,
      onRejected: () => undefined,
      beforeDelete: () => Promise.resolve(),
    },
  );
  blocked = performance.now() - began;
  const agent = await starting;
  await read;
  const took = performance.now() - began;
  const rss = residentMegabytes(agent.identity.pid);
  await agent.kill();
  await agent.release();
  return [took, blocked, rss];
}

/** One start the way the orchestrator started agents before: [ms to the first line, ms the loop was held]. */
async function directStart(root: string): Promise<[number, number]> {
  const began = performance.now();
  const child = spawn(AGENT, { shell: true, detached: true, cwd: root, env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const blocked = performance.now() - began;
  await once(child.stdout!, 'data');
  const took = performance.now() - began;
  process.kill(-child.pid!, 'SIGKILL');
  await once(child, 'exit');
  return [took, blocked];
}

/**
 * The cost of the per-session supervisor on every spawn: agent starts under a supervisor
 * and direct ones, alternating so that both see the same machine, SUPERVISOR_ROUNDS each.
 */
export async function benchSupervisor(log: (line: string) => void): Promise<SupervisorResult> {
  const root = await mkdtemp(path.join(tmpdir(), 'bench-supervisor-'));
  const supervised: number[] = [];
  const direct: number[] = [];
  const supervisedBlocks: number[] = [];
  const directBlocks: number[] = [];
  const rss: number[] = [];
  try {
    for (let round = 0; round < SUPERVISOR_ROUNDS; round++) {
      const [took, blocked, memory] = await supervisedStart(root, round);
      supervised.push(took);
      supervisedBlocks.push(blocked);
      rss.push(memory);
      const [directTook, directBlocked] = await directStart(root);
      direct.push(directTook);
      directBlocks.push(directBlocked);
      if ((round + 1) % 50 === 0) log(`  ${round + 1} of ${SUPERVISOR_ROUNDS} rounds`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return {
    supervisedStartP50Ms: median(supervised),
    supervisedStartP95Ms: percentile(supervised, 95),
    directStartP50Ms: median(direct),
    directStartP95Ms: percentile(direct, 95),
    supervisedBlockP50Ms: median(supervisedBlocks),
    directBlockP50Ms: median(directBlocks),
    supervisorRssMb: median(rss),
  };
}
