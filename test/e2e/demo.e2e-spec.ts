import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { deleteEmbeddedPostgres } from '../../packages/embedded-postgres/src';
import { liveProcessGroup, liveProcessesMentioning } from '../support/process-table';
import { freePort } from '../support/service-process';

const ROOT = join(__dirname, '..', '..');

jest.setTimeout(120_000);

/** `pnpm demo` as a newcomer runs it: on the embedded default database, from start to a clean stop. */
describe('pnpm demo', () => {
  const dataDir = join(ROOT, '.data', `demo-test-${randomBytes(4).toString('hex')}`);
  const orchestratorDataDir = `${dataDir}-orchestrator`;

  afterAll(async () => {
    await deleteEmbeddedPostgres(dataDir);
    await deleteEmbeddedPostgres(orchestratorDataDir);
  });

  it('runs four tasks, shows their events live, kills the second, cancels the third, prints the Claude Code session’s patch, and stops everything', async () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      NO_COLOR: '1',
      EMBEDDED_DATABASE_DIR: dataDir,
      EMBEDDED_DATABASE_PORT: String(await freePort()),
      ORCHESTRATOR_EMBEDDED_DATABASE_DIR: orchestratorDataDir,
      ORCHESTRATOR_EMBEDDED_DATABASE_PORT: String(await freePort()),
    };
    // Nothing installed: the API and the orchestrator each start their embedded PostgreSQL.
    delete env.DATABASE_URL;
    delete env.ORCHESTRATOR_DATABASE_URL;
    delete env.QUEUE_URL;
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'demo.mjs')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toMatch(/^\[A\] # 1 status {3}running$/m);
    // The agent's own line names its session by the API's id, like every other line, and by the orchestrator's, labelled.
    const sessionA = /^\[A\] task [0-9a-f]{8} "Summarise the quarterly report" dispatched: session ([0-9a-f]{8}) /m.exec(output)![1];
    expect(output).toMatch(
      new RegExp(
        `^\\[A\\] #\\s*\\d+ log {6}\\[stdout\\] sample agent working on task [0-9a-f-]{36} \\(Summarise the quarterly report\\) in session ${sessionA} \\(orchestrator's id [0-9a-f]{8}\\)$`,
        'm',
      ),
    );
    expect(output).toMatch(new RegExp(`^A +${sessionA} +Summarise the quarterly report +completed`, 'm'));
    expect(output).toMatch(/^\[A\] #\s*\d+ progress\s+\d+% step 1 of 5$/m);
    expect(output).toMatch(/^\[A\] #\s*\d+ status {3}completed \(exit 0\)$/m);
    expect(output).toMatch(/^\[B\] -- killing session [0-9a-f]{8} mid-run --$/m);
    expect(output).toMatch(/^\[B\] #\s*\d+ status {3}killed$/m);
    // Events, tokens and cost (the sample agent reports usage every step), exit code, error.
    expect(output).toMatch(/^A +[0-9a-f]{8} +Summarise the quarterly report +completed +\d+ +[1-9]\d* +\$\d+\.\d{4} +0 +-$/m);
    expect(output).toMatch(/^B +[0-9a-f]{8} +Refactor the billing module +killed +\d+ +\d+ +\$\d+\.\d{4} +- +-$/m);
    expect(output).toMatch(/^\[A\] #\s*\d+ usage {4}\d+ in \/ \d+ out tokens, \$\d+\.\d{6} \(sample-model-1\)$/m);
    expect(output).toMatch(/^Watch it live: open http:\/\/127\.0\.0\.1:\d+\/ and sign in with the token /m);
    expect(output).toMatch(/^\[C\] -- cancelling session [0-9a-f]{8} mid-run --$/m);
    expect(output).toMatch(/^\[C\] #\s*\d+ log {6}\[stdout\] sample agent: got SIGTERM, stopping$/m);
    expect(output).toMatch(/^\[C\] #\s*\d+ status {3}cancelled/m);
    expect(output).toMatch(/^C +[0-9a-f]{8} +Draft the release notes +cancelled +\d+ /m);
    expect(output).toMatch(/^\/health\/orchestrator: 200 up \(latency \d+ ms, active sessions \d+, circuit closed\)$/m);
    // The real Claude Code program, against the bundled fake model, edited the sample repository.
    expect(output).toMatch(/^\[D\] #\s*\d+ progress Edit src\/greeting\.js$/m);
    expect(output).toMatch(/^\[D\] #\s*\d+ artifact changes\.patch \(\d+ bytes, text\/x-diff\)$/m);
    expect(output).toMatch(/^D +[0-9a-f]{8} +Make the greeting name the world +completed +\d+ +[1-9]\d* +\$\d+\.\d{4} +0 +-$/m);
    expect(output).toMatch(/^ {4}\+export const greeting = 'hello, world';$/m);
    expect(output).toContain('Stopped cleanly.');

    const pids = /^service pids: (\d+) (\d+)$/m.exec(output)!.slice(1).map(Number);
    for (const pid of pids) expect(liveProcessGroup(pid)).toEqual([]);
    expect(liveProcessesMentioning(dataDir)).toEqual([]);
    expect(liveProcessesMentioning(orchestratorDataDir)).toEqual([]);
  });
});
