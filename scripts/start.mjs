// `pnpm start` (after `pnpm build`): runs the built orchestrator and API side by
// side, tags each output line with its service, forwards Ctrl-C / SIGTERM to
// both, and stops everything (non-zero exit) if either dies on its own.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const STOP_TIMEOUT_MS = 10_000;

const services = [
  { name: 'orchestrator', entry: 'apps/orchestrator/dist/main.js', colour: 35 },
  { name: 'api', entry: 'apps/api/dist/main.js', colour: 36 },
];

const useColour = !process.env.NO_COLOR && (process.stdout.isTTY || Boolean(process.env.FORCE_COLOR));
const width = Math.max(...services.map((service) => service.name.length)) + 2;
const tag = (name, colour) => {
  const text = `[${name}]`.padEnd(width);
  return useColour ? `\u001b[${colour}m${text}\u001b[0m` : text;
};
const say = (line) => process.stderr.write(`${tag('start', 33)} ${line}\n`);

for (const service of services) {
  if (!existsSync(path.join(root, service.entry))) {
    say(`${service.entry} is missing: run \`pnpm build\` first (\`pnpm start\` does).`);
    process.exit(1);
  }
}

let stopping = false;
let exitCode = 0;
const running = new Map();

for (const service of services) {
  const child = spawn(process.execPath, [service.entry], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal's Ctrl-C then reaches the services only
    // through the forwarding below, exactly once, and a SIGKILL to the group
    // also takes down what they started (the API's embedded PostgreSQL).
    detached: true,
  });
  const prefix = tag(service.name, service.colour);
  for (const [stream, target] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => target.write(`${prefix} ${line}\n`));
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  running.set(service.name, { child, exited });

  child.once('error', (error) => {
    say(`${service.name} could not be started: ${error.message}`);
    exitCode = 1;
    void stopAll('SIGTERM');
  });
  void exited.then(({ code, signal }) => {
    running.delete(service.name);
    if (stopping) return;
    say(`${service.name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the others.`);
    exitCode = 1;
    void stopAll('SIGTERM');
  });
}

/** Sends `signal` to every running service, then waits for all of them, killing stragglers. */
async function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  const remaining = [...running.entries()];
  for (const [, { child }] of remaining) signalService(child, signal);
  await Promise.all(
    remaining.map(async ([name, { child, exited }]) => {
      let timer;
      const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
      });
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') {
        say(`${name} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it.`);
        exitCode = 1;
        killGroup(child);
        await exited;
      } else if (!(result.code === 0 || result.signal === signal || result.code === 128 + signalNumber(signal))) {
        // 128 + n is how a service that handled signal n reports ending on it.
        exitCode = 1;
      }
    }),
  );
  process.exit(exitCode);
}

function signalService(child, signal) {
  try {
    process.kill(child.pid, signal);
  } catch {
    // Already gone.
  }
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function signalNumber(signal) {
  return { SIGINT: 2, SIGTERM: 15 }[signal] ?? 0;
}

let interrupts = 0;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupts += 1;
    if (interrupts > 1) {
      say('Second interrupt: killing everything now.');
      for (const { child } of running.values()) killGroup(child);
      process.exit(1);
    }
    say(`${signal} received: stopping (press Ctrl-C again to kill).`);
    void stopAll(signal);
  });
}

// Detached children outlive us unless killed: cover an exit through a crash here.
process.on('exit', () => {
  for (const { child } of running.values()) killGroup(child);
});
