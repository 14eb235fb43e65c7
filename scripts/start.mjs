// `pnpm start` (after `pnpm build`): runs the built orchestrator and API side by
// side, tags each output line with its service, forwards Ctrl-C / SIGTERM to
// both, and stops everything (non-zero exit) if either dies on its own.
import { missingEntries, startServiceGroup } from './lib/service-group.mjs';

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
const tags = new Map(services.map((service) => [service.name, tag(service.name, service.colour)]));
const say = (line) => process.stderr.write(`${tag('start', 33)} ${line}\n`);

const missing = missingEntries(services);
if (missing.length > 0) {
  say(`${missing.join(', ')} missing: run \`pnpm build\` first (\`pnpm start\` does).`);
  process.exit(1);
}

let exitCode = 0;
let stopping;
const group = startServiceGroup(services, {
  onLine: (name, line, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(`${tags.get(name) ?? tag(name, 33)} ${line}\n`),
  onUnexpectedExit: (name, how) => {
    say(`${name} ${how}; stopping the others.`);
    exitCode = 1;
    void stop('SIGTERM');
  },
});

async function stop(signal) {
  stopping ??= group.stopAll(signal);
  const clean = await stopping;
  process.exit(clean ? exitCode : 1);
}

let interrupts = 0;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupts += 1;
    if (interrupts > 1) {
      say('Second interrupt: killing everything now.');
      group.kill();
      process.exit(1);
    }
    say(`${signal} received: stopping (press Ctrl-C again to kill).`);
    void stop(signal);
  });
}
