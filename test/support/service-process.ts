import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from './eventually';
import { request } from './http';
import { liveDescendants, waitForNoProcesses, type ProcessInfo } from './process-table';

export interface StartServiceOptions {
  /** Shown in messages and in the captured output. */
  name: string;
  /** The built entry point, run as `node <entry>`. */
  entry: string;
  /**
   * Added to the test process's environment; `undefined` removes a variable. PORT and
   * HOST are set by the helper, and QUEUE_PREFIX (a random one, so that orchestrators
   * of different tests never share a queue) unless given here.
   */
  env?: Record<string, string | undefined>;
  /** A fixed port, e.g. to restart a service where its clients expect it; default a free one. */
  port?: number;
  /** Polled until it answers with one of `readyStatuses`; default `/health`. */
  healthPath?: string;
  /** Default `[200]`. */
  readyStatuses?: number[];
  startTimeoutMs?: number;
}

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  /** The name it was started with, which its output is shown under. */
  name: string;
  url: string;
  port: number;
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<ServiceExit>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs` (default 10 s). Safe to call more than once. */
  stop(graceMs?: number): Promise<ServiceExit>;
  kill(signal: NodeJS.Signals): void;
  /** Everything the process printed so far, stdout and stderr interleaved. */
  output(): string;
}

const OUTPUT_LIMIT_CHARS = 512 * 1024;

/** A port that was free a moment ago: the OS picks it for a listener on port 0. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A QUEUE_PREFIX no other orchestrator of the run uses: its own queue, sessions and nodes. */
export function uniqueQueuePrefix(): string {
  return `test_${randomBytes(5).toString('hex')}`;
}

/**
 * Where the orchestrators this test worker starts keep their agents' spools: the run's
 * directory (global-setup.ts), one per worker, so that two workers' nodes that happen to
 * share a NODE_ID never see each other's agents, while a node restarted by one test
 * finds its own.
 */
export function workerSpoolRoot(): string {
  return path.join(process.env.MOSAIC_TEST_SPOOLS ?? os.tmpdir(), `worker-${process.pid}`);
}

/**
 * The Node.js options a built service runs with, as `pnpm start` gives them:
 * its package.json's `nodeArgs` (scripts/lib/service-group.mjs).
 */
export function nodeArgsOf(entry: string): string[] {
  const manifest = JSON.parse(readFileSync(path.join(path.dirname(path.dirname(entry)), 'package.json'), 'utf8')) as {
    nodeArgs?: string[];
  };
  return manifest.nodeArgs ?? [];
}

/**
 * Starts a built service as a real child process on a free port and waits until its
 * health endpoint answers. Set DEBUG to see its output live; otherwise use
 * `withServiceOutput` to attach it to a failing test's error (a failed start has it attached).
 */
export async function startService(options: StartServiceOptions): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const env: Record<string, string> = {};
  const defaults = { NO_COLOR: '1', QUEUE_PREFIX: uniqueQueuePrefix(), SESSION_SPOOL_ROOT: workerSpoolRoot() };
  for (const [name, value] of Object.entries({ ...defaults, ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' })) {
    if (value !== undefined) env[name] = value;
  }
  const child = spawn(process.execPath, [...nodeArgsOf(options.entry), options.entry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const capture = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT_CHARS);
    if (process.env.DEBUG) process.stderr.write(`[${options.name}] ${chunk.toString('utf8')}`);
  };
  child.stdout.on('data', capture);
  child.stderr.on('data', capture);
  const exited = new Promise<ServiceExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let hasExited = false;
  // Remembers the end whenever it comes.
  void exited.then(() => (hasExited = true));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: could not start ${options.entry}`);

  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    name: options.name,
    url,
    port,
    pid,
    exited,
    output: () => output,
    kill: (signal) => {
      if (!hasExited) child.kill(signal);
    },
    stop: async (graceMs = 10_000) => {
      if (!hasExited) child.kill('SIGTERM');
      const result = await Promise.race([exited, sleep(graceMs, undefined, { ref: false })]);
      if (result) return result;
      child.kill('SIGKILL');
      return exited;
    },
  };

  const timeoutMs = options.startTimeoutMs ?? 20_000;
  const readyStatuses = options.readyStatuses ?? [200];
  const outcome = await eventually(async () => {
    if (hasExited) return 'exited before it became healthy';
    const answer = await request('GET', `${url}${options.healthPath ?? '/health'}`);
    if (!readyStatuses.includes(answer.status)) throw new Error(`health answered ${answer.status}`);
    return undefined;
  }, timeoutMs).catch(() => `did not become healthy within ${timeoutMs} ms`);
  if (outcome === undefined) return service;
  await service.stop(2_000);
  throw withOutputOf([service], new Error(`${options.name} ${outcome}`));
}

/** The last `chars` characters each of `services` printed, under its name, appended to `error`'s message. */
export function withOutputOf<E>(services: readonly (ServiceProcess | undefined)[], error: E, chars = 20_000): E {
  if (!(error instanceof Error)) return error;
  for (const service of services) {
    if (service !== undefined)
      error.message += `\n\n--- output of ${service.name} (pid ${service.pid}) ---\n${service.output().slice(-chars)}`;
  }
  return error;
}

/**
 * Wraps a test body so that, when it fails, the output of the services it names is appended
 * to the error: the cause of a failure is usually in a service's log, not in the assertion.
 */
export function withServiceOutput(
  services: () => readonly (ServiceProcess | undefined)[],
  body: () => Promise<void>,
  chars?: number,
): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (error) {
      throw withOutputOf(services(), error, chars);
    }
  };
}

/**
 * Stops a service, then whatever agents it leaves running (an orchestrator's agents
 * outlive it by design, under their supervisors, until it is back: a test that does
 * not restart it must not leave them behind), and proves that nothing it started is
 * left. Every process group a descendant leads (a supervisor's, an agent's) is killed
 * whole, so processes started after the look at the tree go too.
 */
export async function stopLeavingNoProcesses(service: ServiceProcess | undefined, timeoutMs = 5_000): Promise<void> {
  if (service === undefined) return;
  const started = liveDescendants(service.pid);
  await service.stop();
  await killProcessTrees(started, timeoutMs);
}

/** SIGKILL to every process group one of `processes` leads, and to the rest of them; resolves once all are gone. */
export async function killProcessTrees(processes: readonly ProcessInfo[], timeoutMs = 5_000): Promise<void> {
  for (const info of processes) {
    try {
      process.kill(info.pgid === info.pid ? -info.pgid : info.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  await waitForNoProcesses(
    processes.map((info) => info.pid),
    timeoutMs,
  );
}
