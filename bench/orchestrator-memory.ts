import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, databaseName, dropDatabase, uniqueDatabaseName } from '../test/support/database';
import { callNode, ORCHESTRATOR_ENTRY, startCluster, type Cluster } from '../test/support/orchestrator-cluster';
import { liveDescendants } from '../test/support/process-table';
import { withOutputOf } from '../test/support/service-process';
import { allSessions, inParallel, RunningEvents, spawnSessions } from './queue';
import { residentMegabytes, type DatabaseServer } from './support';

/** Sessions whose agents run at once while the node's RSS is read. */
export const RUNNING_SESSIONS = 200;
/** Short sessions that come and go, in two halves: RSS is read after each. */
export const CHURN_SESSIONS = 2_000;
const CHURN_HALF = CHURN_SESSIONS / 2;
/** The task title that makes the agent stay until it is killed; any other task's agent exits at once. */
const HOLD_TITLE = 'memory-bench-hold';
/**
 * One AGENT_COMMAND for both kinds, told apart by the task file, with shell builtins only:
 * a short session costs the node its supervisor and one shell, nothing more.
 */
const AGENT_COMMAND = `read -r task < "$MOSAIC_TASK_FILE"; case $task in *${HOLD_TITLE}*) exec sleep 600;; esac`;
/** startCluster's name for its first node, given explicitly because the node's spool directory is named after it. */
const NODE_ID = 'node-0';
/** Kill requests in flight at once; each answers only once its agent's tree is gone. */
const KILL_CLIENTS = 8;
/** After the last session's clean-up: what the node does then (its last store writes, BullMQ's job completion) is over well within it. */
const SETTLE_MS = 2_000;
const PHASE_TIMEOUT_MS = 180_000;

export interface OrchestratorMemoryResult {
  /** VmRSS of the node process (not its supervisors or agents), MB, started and idle. */
  readonly idleMb: number;
  /** With RUNNING_SESSIONS agents running, before any churn. */
  readonly rssWith200RunningMb: number;
  /** Once the first CHURN_SESSIONS / 2 short sessions (and the running ones before them) have ended and been cleaned up. */
  readonly afterFirstThousandMb: number;
  readonly afterSecondThousandMb: number;
  /** RUNNING_SESSIONS running again, after the churn. */
  readonly rssWith200RunningAfterChurnMb: number;
  /** Short sessions that ended `completed`, of CHURN_SESSIONS. */
  readonly completed: number;
  /** Running sessions that ended `killed`, of 2 × RUNNING_SESSIONS. */
  readonly killed: number;
  /** From the first spawn to the RUNNING_SESSIONS-th `running` callback, the first time. */
  readonly startRunningSeconds: number;
  /** From the first spawn of a half to the end of its last session's clean-up. */
  readonly firstThousandSeconds: number;
  readonly secondThousandSeconds: number;
  /** From the idle reading to the last one. */
  readonly totalSeconds: number;
}

/** One orchestrator node, its callbacks going to a loopback receiver, and where it keeps its sessions' directories. */
interface Bench {
  readonly cluster: Cluster;
  readonly receiver: RunningEvents;
  readonly spoolDir: string;
  readonly workdirRoot: string;
}

function spawnBody(receiver: RunningEvents, title: string) {
  return () => ({
    task: { id: `task-${randomUUID()}`, title },
    context: { schema_version: 1 },
    callback_url: receiver.url,
    callback_token: 'memory-bench-token',
  });
}

async function waitFor(what: () => string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not within ${PHASE_TIMEOUT_MS} ms: ${what()}`);
    await sleep(100);
  }
}

/**
 * Waits until `ended` sessions have sent their terminal callback and the node has cleaned
 * every one up: it removes a session's spool and directory only once its callbacks were
 * acknowledged and its supervisor released, and forgets the session right after.
 */
async function untilAllEnded(bench: Bench, ended: number): Promise<void> {
  const node = bench.cluster.nodes[0]!;
  await waitFor(
    () => `${ended} sessions ended and cleaned up (${bench.receiver.terminal} ended)`,
    () =>
      bench.receiver.terminal >= ended &&
      readdirSync(bench.spoolDir).length === 0 &&
      readdirSync(bench.workdirRoot).length === 0 &&
      liveDescendants(node.pid).length === 0,
  );
}

/** The node's RSS once it has had SETTLE_MS to finish what it was doing: the higher of two readings a second apart. */
async function settledRss(bench: Bench, log: (line: string) => void, label: string): Promise<number> {
  await sleep(SETTLE_MS);
  const pid = bench.cluster.nodes[0]!.pid;
  const first = residentMegabytes(pid);
  await sleep(1_000);
  const second = residentMegabytes(pid);
  log(`  ${label}: ${first.toFixed(1)} MB, a second later ${second.toFixed(1)} MB`);
  return Math.max(first, second);
}

/** Starts RUNNING_SESSIONS agents that stay, reads the RSS once all run, kills them; resolves to [RSS, seconds until all ran]. */
async function runningRss(bench: Bench, endedBefore: number, log: (line: string) => void): Promise<[number, number]> {
  const runningBefore = bench.receiver.runningAt.size;
  const clock = performance.now();
  const ids = await spawnSessions(bench.cluster, RUNNING_SESSIONS, spawnBody(bench.receiver, HOLD_TITLE));
  await waitFor(
    () => `${RUNNING_SESSIONS} sessions running (${bench.receiver.runningAt.size - runningBefore} are)`,
    () => bench.receiver.runningAt.size >= runningBefore + RUNNING_SESSIONS,
  );
  const startSeconds = (performance.now() - clock) / 1000;
  const rss = await settledRss(bench, log, `${RUNNING_SESSIONS} running (all running after ${startSeconds.toFixed(1)} s)`);
  await inParallel(ids.length, KILL_CLIENTS, async (index) => {
    const answer = await callNode(bench.cluster.nodes[0]!, 'POST', `/orchestrator/sessions/${ids[index]}/kill`);
    if (answer.status !== 200) throw new Error(`kill answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  });
  await untilAllEnded(bench, endedBefore + RUNNING_SESSIONS);
  return [rss, startSeconds];
}

/** CHURN_SESSIONS / 2 short sessions, spawned at once (the node runs up to its capacity of them at a time); resolves to [RSS, seconds]. */
async function churnRss(bench: Bench, endedBefore: number, label: string, log: (line: string) => void): Promise<[number, number]> {
  const clock = performance.now();
  await spawnSessions(bench.cluster, CHURN_HALF, spawnBody(bench.receiver, 'memory-bench-brief'));
  await untilAllEnded(bench, endedBefore + CHURN_HALF);
  const seconds = (performance.now() - clock) / 1000;
  return [await settledRss(bench, log, `${label} (${seconds.toFixed(1)} s)`), seconds];
}

async function measure(bench: Bench, log: (line: string) => void): Promise<OrchestratorMemoryResult> {
  const clock = performance.now();
  const idleMb = await settledRss(bench, log, 'idle');
  const [rssWith200RunningMb, startRunningSeconds] = await runningRss(bench, 0, log);
  const [afterFirstThousandMb, firstThousandSeconds] = await churnRss(bench, RUNNING_SESSIONS, `after ${CHURN_HALF} short sessions`, log);
  const [afterSecondThousandMb, secondThousandSeconds] = await churnRss(
    bench,
    RUNNING_SESSIONS + CHURN_HALF,
    `after ${CHURN_SESSIONS}`,
    log,
  );
  const [rssWith200RunningAfterChurnMb] = await runningRss(bench, RUNNING_SESSIONS + CHURN_SESSIONS, log);
  const sessions = await allSessions(bench.cluster);
  return {
    idleMb,
    rssWith200RunningMb,
    afterFirstThousandMb,
    afterSecondThousandMb,
    rssWith200RunningAfterChurnMb,
    completed: sessions.filter((session) => session.status === 'completed').length,
    killed: sessions.filter((session) => session.status === 'killed').length,
    startRunningSeconds,
    firstThousandSeconds,
    secondThousandSeconds,
    totalSeconds: (performance.now() - clock) / 1000,
  };
}

/** One node of capacity RUNNING_SESSIONS on the PostgreSQL queue store at `url`, measured by `measure`. */
async function measureNode(url: string, log: (line: string) => void): Promise<OrchestratorMemoryResult> {
  // Directories of this run's own, so that "every session cleaned up" can be read from them.
  const root = await mkdtemp(path.join(tmpdir(), 'bench-orchestrator-memory-'));
  const receiver = await RunningEvents.start();
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      nodes: 1,
      capacity: RUNNING_SESSIONS,
      env: {
        AGENT_COMMAND,
        LOG_LEVEL: 'warn',
        MAX_QUEUED_SESSIONS: String(CHURN_SESSIONS),
        NODE_ID,
        QUEUE_URL: undefined,
        ORCHESTRATOR_DATABASE_URL: url,
        SESSION_SPOOL_ROOT: path.join(root, 'spools'),
        SESSION_WORKDIR_ROOT: path.join(root, 'workdirs'),
      },
    });
    return await measure(
      { cluster, receiver, spoolDir: path.join(root, 'spools', NODE_ID), workdirRoot: path.join(root, 'workdirs') },
      log,
    );
  } catch (error) {
    throw withOutputOf(cluster?.nodes ?? [], error, 4_000);
  } finally {
    await cluster?.stop();
    await receiver.close();
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * The resident memory of one orchestrator node (issue 21's goal: under 150 MB with 200
 * sessions running, no growth after 2,000 have come and gone), on the PostgreSQL queue
 * store, a fresh database on the benchmark server. No garbage collection is forced:
 * what counts is what the node holds as it runs.
 */
export async function benchOrchestratorMemory(server: DatabaseServer, log: (line: string) => void): Promise<OrchestratorMemoryResult> {
  if (!existsSync(ORCHESTRATOR_ENTRY)) throw new Error(`${ORCHESTRATOR_ENTRY} is missing: build the orchestrator first`);
  const url = await createDatabase(server.url, uniqueDatabaseName('mosaic_bench_memory'));
  try {
    return await measureNode(url, log);
  } finally {
    await dropDatabase(server.url, databaseName(url));
  }
}
