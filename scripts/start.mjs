// `pnpm start` (after `pnpm build`): runs the built orchestrator and API side by
// side, tags each output line with its service, forwards Ctrl-C / SIGTERM to
// both, and stops everything (non-zero exit) if either dies on its own.
import { missingEntries, startServiceGroup, unsupportedNode } from './lib/service-group.mjs';

// Both services read PORT, so each gets its own here: PORT stays the API's and
// ORCHESTRATOR_PORT becomes the orchestrator's, which the API is pointed at
// unless ORCHESTRATOR_URL is set. The defaults are the services' own.
const apiPort = process.env.PORT ?? '3000';
const orchestratorPort = process.env.ORCHESTRATOR_PORT ?? '3100';
const orchestratorUrl = process.env.ORCHESTRATOR_URL ?? `http://127.0.0.1:${orchestratorPort}`;

const services = [
  { name: 'orchestrator', entry: 'apps/orchestrator/dist/main.js', colour: 35, env: { PORT: orchestratorPort } },
  { name: 'api', entry: 'apps/api/dist/main.js', colour: 36, env: { ORCHESTRATOR_URL: orchestratorUrl } },
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
const unsupported = unsupportedNode();
if (unsupported) {
  say(unsupported);
  process.exit(1);
}
// PORT is the API's to check; the orchestrator would name ORCHESTRATOR_PORT's mistakes PORT.
if (!/^\d+$/.test(orchestratorPort) || Number(orchestratorPort) < 1 || Number(orchestratorPort) > 65535) {
  say(`ORCHESTRATOR_PORT must be a port number from 1 to 65535, not "${orchestratorPort}".`);
  process.exit(1);
}
if (Number(apiPort) === Number(orchestratorPort)) {
  say(`PORT and ORCHESTRATOR_PORT are both ${orchestratorPort}: give the API and the orchestrator a port each.`);
  process.exit(1);
}
say(`Starting the orchestrator on port ${orchestratorPort} and the API on port ${apiPort}.`);

let exitCode = 0;
let stopping;
const group = startServiceGroup(services, {
  onLine: (name, line, stream) =>
    (stream === 'stdout' ? process.stdout : process.stderr).write(`${tags.get(name) ?? tag(name, 33)} ${line}\n`),
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
