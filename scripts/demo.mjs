// `pnpm demo` (after `pnpm build`): the whole system on the embedded default
// database. Starts orchestrator and API, creates four tasks, dispatches them,
// prints each session's events as they arrive, kills the second and cancels the
// third mid-run; the fourth is the real Claude Code program (a dev dependency)
// against the bundled fake model API, editing a small sample repository, whose
// patch it prints. Then it prints the final sessions and the orchestrator's health, and
// stops everything; with `--keep` (`pnpm demo --keep`) the services stay up for
// the operators' page until Ctrl-C. Exits 0 only when every step turned out as described.
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { missingEntries, root, startServiceGroup, unsupportedNode } from './lib/service-group.mjs';

const OPERATOR_TOKEN = process.env.MOSAIC_API_TOKEN ?? 'demo-operator-token';
const KEEP = process.argv.includes('--keep');
const ORCHESTRATOR_KEY = process.env.ORCHESTRATOR_API_KEY ?? 'demo-orchestrator-key';
const DEADLINE_MS = 90_000;

const out = (line = '') => process.stdout.write(`${line}\n`);
const fail = (message) => {
  out(`demo: ${message}`);
  return 1;
};

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A small repository for the Claude Code session to edit: one commit, in .data/. */
function sampleRepository() {
  const dir = path.join(root, '.data', 'demo-repository');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  writeFileSync(path.join(dir, 'README.md'), '# Greeter\n\nSays hello.\n');
  writeFileSync(path.join(dir, 'src', 'greeting.js'), "export const greeting = 'hello';\n");
  const git = (...args) =>
    execFileSync('git', args, {
      cwd: dir,
      stdio: 'ignore',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'Demo',
        GIT_AUTHOR_EMAIL: 'demo@localhost',
        GIT_COMMITTER_NAME: 'Demo',
        GIT_COMMITTER_EMAIL: 'demo@localhost',
      },
    });
  git('init', '--quiet', '--initial-branch=main');
  git('add', '.');
  git('commit', '--quiet', '-m', 'The greeter');
  return `file://${dir}`;
}

/** What the fake model answers the Claude Code session: a read (Claude Code edits only what it read), an edit, a new file, then its summary. */
const CLAUDE_SCRIPT = [
  {
    type: 'tool_use',
    name: 'Read',
    text: 'Let me look at the greeting first.',
    input: { file_path: 'src/greeting.js' },
    usage: { input_tokens: 2200, output_tokens: 40 },
  },
  {
    type: 'tool_use',
    name: 'Edit',
    text: 'I will make the greeting name the world, and add a test.',
    input: { file_path: 'src/greeting.js', old_string: "'hello'", new_string: "'hello, world'" },
    usage: { input_tokens: 2400, output_tokens: 60 },
  },
  {
    type: 'tool_use',
    name: 'Write',
    input: {
      file_path: 'src/greeting.test.js',
      content: "import { greeting } from './greeting.js';\n\nif (greeting !== 'hello, world') throw new Error(greeting);\n",
    },
    usage: { input_tokens: 260, output_tokens: 70 },
  },
  { type: 'text', text: 'The greeting now names the world, with a test.', usage: { input_tokens: 180, output_tokens: 25 } },
];

async function main() {
  const [apiPort, orchestratorPort] = [await freePort(), await freePort()];
  const claude = path.join(root, 'node_modules', '.bin', 'claude');
  if (!existsSync(claude)) return fail(`${claude} is missing: run \`pnpm install\` first.`);

  const api = `http://127.0.0.1:${apiPort}`;
  const services = [
    {
      name: 'orchestrator',
      entry: 'apps/orchestrator/dist/main.js',
      env: {
        PORT: String(orchestratorPort),
        ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
        CLAUDE_CODE_PATH: claude,
        ANTHROPIC_API_KEY: 'demo-model-key',
      },
    },
    {
      name: 'api',
      entry: 'apps/api/dist/main.js',
      env: {
        PORT: String(apiPort),
        ORCHESTRATOR_URL: `http://127.0.0.1:${orchestratorPort}`,
        ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
      },
    },
  ];
  const missing = missingEntries(services);
  if (missing.length > 0) return fail(`${missing.join(', ')} missing: run \`pnpm build\` first (\`pnpm demo\` does).`);
  const unsupported = unsupportedNode();
  if (unsupported) return fail(unsupported);
  const { startFakeAnthropic } = await import('../packages/fake-model/dist/index.js');
  const fakeModel = await startFakeAnthropic(CLAUDE_SCRIPT);
  services[0].env.ANTHROPIC_BASE_URL = fakeModel.url;
  const repositoryUrl = sampleRepository();

  const logDir = path.join(root, '.data');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'demo-services.log');
  const log = createWriteStream(logFile, { flags: 'w' });
  let died;
  const group = startServiceGroup(services, {
    onLine: (name, line) => log.write(`[${name}] ${line}\n`),
    onUnexpectedExit: (name, how) => (died = `${name} ${how}`),
  });
  out(
    `Starting orchestrator (port ${orchestratorPort}) and API (port ${apiPort}); their logs go to ${path.relative(process.cwd(), logFile)}`,
  );
  out(`service pids: ${group.pids().join(' ')}`);

  const call = async (method, url, body) => {
    const response = await fetch(`${api}${url}`, {
      method,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(20_000),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };

  try {
    const started = Date.now();
    for (;;) {
      if (died) return fail(died);
      const health = await fetch(`${api}/health`).then(
        (r) => r.status,
        () => 0,
      );
      if (health === 200) break;
      if (Date.now() - started > 60_000) return fail('the services did not become healthy within 60 s');
      await sleep(200);
    }
    out(`Up after ${((Date.now() - started) / 1000).toFixed(1)} s (embedded PostgreSQL unless DATABASE_URL is set).`);
    // A token of the user's own (MOSAIC_API_TOKEN) is theirs to know: only the demo's made-up one is printed.
    out(
      `Watch it live: open ${api}/ and sign in with ${process.env.MOSAIC_API_TOKEN === undefined ? `the token ${OPERATOR_TOKEN}` : 'your MOSAIC_API_TOKEN'}${KEEP ? '' : ' (`pnpm demo --keep` keeps it up afterwards)'}.`,
    );
    out();

    const plans = [
      { label: 'A', title: 'Summarise the quarterly report', metadata: { sample_agent: { steps: 5, step_ms: 300 } }, expect: 'completed' },
      { label: 'B', title: 'Refactor the billing module', metadata: { sample_agent: { steps: 40, step_ms: 250 } }, expect: 'killed' },
      { label: 'C', title: 'Draft the release notes', metadata: { sample_agent: { steps: 40, step_ms: 250 } }, expect: 'cancelled' },
      {
        label: 'D',
        title: 'Make the greeting name the world',
        agent: { kind: 'claude-code', model: 'claude-sonnet-4-5' },
        repository: { url: repositoryUrl },
        expect: 'completed',
      },
    ];
    const runs = [];
    for (const plan of plans) {
      const { label: _label, expect: _expect, ...fields } = plan;
      const task = await call('POST', '/tasks', fields);
      const { session } = await call('POST', `/tasks/${task.id}/dispatch`, { requested_by: 'demo' });
      out(`[${plan.label}] task ${task.id.slice(0, 8)} "${plan.title}" dispatched: session ${session.id.slice(0, 8)} ${session.status}`);
      runs.push({ ...plan, task, sessionId: session.id, seen: 0, session, stopRequested: false });
    }
    out();

    const deadline = Date.now() + DEADLINE_MS;
    while (runs.some((run) => !['completed', 'failed', 'killed', 'cancelled'].includes(run.session.status))) {
      if (died) return fail(died);
      if (Date.now() > deadline) return fail(`sessions still active after ${DEADLINE_MS / 1000} s`);
      for (const run of runs) {
        run.session = await call('GET', `/orchestrator/sessions/${run.sessionId}`);
        for (const event of run.session.events.slice(run.seen)) out(`[${run.label}] ${describe(event, run.session)}`);
        run.seen = run.session.events.length;
        const progressed = run.session.events.filter((event) => event.type === 'progress').length;
        // B is killed (SIGKILL, at once); C is cancelled (SIGTERM: the agent says so and stops by itself).
        if (run.expect !== 'completed' && !run.stopRequested && progressed >= 3) {
          run.stopRequested = true;
          const how = run.expect === 'killed' ? 'kill' : 'cancel';
          out(`[${run.label}] -- ${how === 'kill' ? 'killing' : 'cancelling'} session ${run.sessionId.slice(0, 8)} mid-run --`);
          const stopped = await call(
            'POST',
            `/orchestrator/sessions/${run.sessionId}/${how}`,
            how === 'cancel' ? { grace_ms: 5000 } : undefined,
          );
          out(`[${run.label}] ${how} answered: ${stopped.status}`);
        }
      }
      await sleep(150);
    }
    // Late events (the final status callback of a killed session) are listed too.
    await sleep(300);
    for (const run of runs) {
      run.session = await call('GET', `/orchestrator/sessions/${run.sessionId}`);
      for (const event of run.session.events.slice(run.seen)) out(`[${run.label}] ${describe(event, run.session)}`);
    }

    out();
    out('Sessions:');
    printTable(
      ['', 'session', 'task', 'status', 'events', 'tokens', 'cost', 'exit', 'error'],
      runs.map((run) => [
        run.label,
        run.sessionId.slice(0, 8),
        run.title,
        run.session.status,
        String(run.session.events.length),
        String(run.session.usage.input_tokens + run.session.usage.output_tokens),
        `$${run.session.usage.cost_usd.toFixed(4)}`,
        run.session.exit_code === null ? '-' : String(run.session.exit_code),
        run.session.error ?? '-',
      ]),
    );
    const claudeRun = runs.find((run) => run.label === 'D');
    const artifacts = await call('GET', `/orchestrator/sessions/${claudeRun.sessionId}/artifacts`);
    out();
    out(`[D] artifacts: ${artifacts.artifacts.map((artifact) => `${artifact.name} (${artifact.size} bytes)`).join(', ')}`);
    const patch = await fetch(`${api}/orchestrator/sessions/${claudeRun.sessionId}/artifacts/changes.patch`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    }).then((response) => (response.ok ? response.text() : ''));
    out('[D] changes.patch:');
    for (const line of patch.trimEnd().split('\n')) out(`    ${line}`);
    out();
    const health = await fetch(`${api}/health/orchestrator`).then(async (r) => ({ status: r.status, body: await r.json() }));
    const orchestrator = health.body.info?.orchestrator ?? health.body.error?.orchestrator ?? {};
    out(
      `/health/orchestrator: ${health.status} ${orchestrator.status} (latency ${orchestrator.latency_ms} ms, active sessions ${orchestrator.active_sessions}, circuit ${orchestrator.circuit})`,
    );

    const wrong = runs.filter((run) => run.session.status !== run.expect);
    if (wrong.length > 0) return fail(`unexpected final status: ${wrong.map((run) => `${run.label} ${run.session.status}`).join(', ')}`);
    if (health.status !== 200) return fail('the orchestrator did not report healthy');
    if (!patch.includes("+export const greeting = 'hello, world';")) return fail('the Claude Code session left no patch with its edit');
    if (KEEP) {
      out();
      out(`The services keep running: the page is at ${api}/ (dispatch, cancel and kill from there). Ctrl-C stops everything.`);
      await new Promise((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, resolve);
      });
    }
    return 0;
  } finally {
    out();
    out('Stopping the services...');
    const clean = await group.stopAll('SIGTERM');
    await fakeModel.close();
    log.end();
    out(clean ? 'Stopped cleanly.' : 'A service did not stop cleanly; see the log.');
    if (!clean) process.exitCode = 1;
  }
}

function describe(event, session) {
  const sequence = `#${String(event.sequence).padStart(2)}`;
  switch (event.type) {
    case 'status':
      // The API's own record of an operator's dispatch, kill or cancel names who asked; the orchestrator's report follows it.
      return `${sequence} status   ${event.status}${event.data?.exit_code === undefined ? '' : ` (exit ${event.data.exit_code})`}${event.data?.actor ? ` (asked by ${event.data.actor})` : ''}`;
    case 'progress':
      return `${sequence} progress ${event.data.percent === undefined ? '' : `${String(Math.round(event.data.percent)).padStart(3)}% `}${event.data.message}`;
    case 'result':
      return `${sequence} result   ${event.status}${event.data.summary ? `: ${event.data.summary}` : ''}`;
    case 'artifact':
      return `${sequence} artifact ${event.data.name} (${event.data.size} bytes, ${event.data.media_type})`;
    case 'usage':
      return `${sequence} usage    ${event.data.input_tokens ?? 0} in / ${event.data.output_tokens ?? 0} out tokens, $${(event.data.cost_usd ?? 0).toFixed(6)}${event.data.model ? ` (${event.data.model})` : ''}`;
    default:
      return `${sequence} log      [${event.data.stream}] ${withBothSessionIds(event.data.line, session)}`;
  }
}

// An agent knows its session by the orchestrator's id only, while every other
// line here names the API's: a log line naming the orchestrator's gets both.
function withBothSessionIds(line, session) {
  const theirs = session.orchestrator_session_id;
  return theirs ? line.replaceAll(theirs, `${session.id.slice(0, 8)} (orchestrator's id ${theirs.slice(0, 8)})`) : line;
}

function printTable(header, rows) {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column].length)));
  const line = (cells) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  out(line(header));
  out(line(widths.map((width) => '-'.repeat(width))));
  for (const row of rows) out(line(row));
}

main().then(
  (code) => {
    process.exitCode ||= code;
  },
  (error) => {
    out(`demo failed: ${error.message}`);
    process.exitCode = 1;
  },
);
