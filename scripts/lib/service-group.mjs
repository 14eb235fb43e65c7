// Runs the built services as child processes, each in its own process group,
// and stops them together. Shared by `pnpm start` and `pnpm demo`.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const STOP_TIMEOUT_MS = 10_000;

/** One line saying this Node.js cannot run the services (the rule of packages/http-kit, built), or undefined. */
export function unsupportedNode() {
  const { unsupportedNodeMessage } = createRequire(import.meta.url)('../../packages/http-kit/dist/supported-node.js');
  return unsupportedNodeMessage(process.version);
}

/** The built entry points; missing ones mean `pnpm build` has not run. */
export function missingEntries(services) {
  return services.filter((service) => !existsSync(path.join(root, service.entry))).map((service) => service.entry);
}

/**
 * The Node.js options a service runs with: its package.json's `nodeArgs`
 * (the API's caps on its V8 heap, see docs/performance.md).
 */
export function nodeArgsOf(entry) {
  const manifest = JSON.parse(readFileSync(path.join(root, path.dirname(path.dirname(entry)), 'package.json'), 'utf8'));
  return manifest.nodeArgs ?? [];
}

/**
 * Starts `services` ({ name, entry, env }) and hands every output line to
 * `onLine(name, line, stream)`. `onUnexpectedExit(name, how)` is called when one
 * ends while nobody asked it to. Returns `stopAll(signal)`, which resolves to
 * true when every service ended cleanly, and `kill()` for a hard stop.
 */
export function startServiceGroup(services, { onLine, onUnexpectedExit }) {
  let stopping = false;
  const running = new Map();

  for (const service of services) {
    const child = spawn(process.execPath, [...nodeArgsOf(service.entry), service.entry], {
      cwd: root,
      env: { ...process.env, ...service.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a terminal's Ctrl-C reaches the services only through
      // stopAll, exactly once, and a SIGKILL to the group also takes down what
      // they started (agents, the API's embedded PostgreSQL).
      detached: true,
    });
    for (const [stream, name] of [
      [child.stdout, 'stdout'],
      [child.stderr, 'stderr'],
    ]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => onLine(service.name, line, name));
    }
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    running.set(service.name, { child, exited });
    child.once('error', (error) => onUnexpectedExit(service.name, `could not be started: ${error.message}`));
    void exited.then(({ code, signal }) => {
      running.delete(service.name);
      if (!stopping) onUnexpectedExit(service.name, `exited unexpectedly (${signal ?? `code ${code}`})`);
    });
  }

  async function stopAll(signal) {
    stopping = true;
    const remaining = [...running.entries()];
    for (const [, { child }] of remaining) signalProcess(child.pid, signal);
    const results = await Promise.all(
      remaining.map(async ([name, { child, exited }]) => {
        let timer;
        const timedOut = new Promise((resolve) => {
          timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
        });
        const result = await Promise.race([exited, timedOut]);
        clearTimeout(timer);
        if (result === 'timeout') {
          onLine(name, `did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it`, 'stderr');
          signalProcess(-child.pid, 'SIGKILL');
          await exited;
          return false;
        }
        // 128 + n is how a service that handled signal n reports ending on it.
        return result.code === 0 || result.signal === signal || result.code === 128 + signalNumber(signal);
      }),
    );
    return results.every(Boolean);
  }

  function kill() {
    stopping = true;
    for (const { child } of running.values()) signalProcess(-child.pid, 'SIGKILL');
  }

  // Detached children outlive us unless killed: cover an exit through a crash here.
  process.on('exit', kill);

  return { pids: () => [...running.values()].map(({ child }) => child.pid), stopAll, kill };
}

function signalProcess(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function signalNumber(signal) {
  return { SIGINT: 2, SIGTERM: 15 }[signal] ?? 0;
}
