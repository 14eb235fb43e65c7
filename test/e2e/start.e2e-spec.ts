import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase } from '../support/database';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { liveDescendants, liveProcessGroup, waitForNoProcesses } from '../support/process-table';
import { freePort } from '../support/service-process';

const ROOT = join(__dirname, '..', '..');
const START_TIMEOUT_MS = 30_000;

jest.setTimeout(60_000);

/** The status `url` answers with, 0 for no answer. */
async function status(url: string): Promise<number> {
  return request('GET', url, { timeoutMs: 2_000 }).then(
    (answer) => answer.status,
    () => 0,
  );
}

/** `pnpm start` (the built services) with PORT set: each service must get a port of its own. */
describe('pnpm start', () => {
  let databaseUrl: string;
  let start: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    databaseUrl = await createTestDatabase('start', { migrate: true });
  });

  afterAll(async () => {
    // Whatever happened above, nothing this test started may outlive it.
    if (start?.pid !== undefined && start.exitCode === null && start.signalCode === null) {
      const services = liveDescendants(start.pid);
      start.kill('SIGKILL');
      for (const service of services) {
        try {
          process.kill(-service.pgid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await waitForNoProcesses([start.pid, ...services.map((service) => service.pid)], 10_000);
    }
    await dropTestDatabase(databaseUrl);
  });

  it('runs the API on PORT and the orchestrator on ORCHESTRATOR_PORT, wired together, and stops both', async () => {
    const apiPort = await freePort();
    let orchestratorPort = await freePort();
    while (orchestratorPort === apiPort) orchestratorPort = await freePort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      NO_COLOR: '1',
      LOG_LEVEL: 'warn',
      PORT: String(apiPort),
      ORCHESTRATOR_PORT: String(orchestratorPort),
      DATABASE_URL: databaseUrl,
    };
    delete env.ORCHESTRATOR_URL;
    delete env.HOST;
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    start = child;
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));

    const api = `http://127.0.0.1:${apiPort}`;
    const orchestrator = `http://127.0.0.1:${orchestratorPort}`;
    const running = await eventually(async () => {
      if (child.exitCode !== null) return false;
      expect({ api: await status(`${api}/health`), orchestrator: await status(`${orchestrator}/health`) }).toEqual({
        api: 200,
        orchestrator: 200,
      });
      return true;
    }, START_TIMEOUT_MS).catch((error: Error) => {
      error.message += `\n${output}`;
      throw error;
    });
    if (!running) throw new Error(`pnpm start exited with code ${child.exitCode}:\n${output}`);
    expect(output).toContain(`Starting the orchestrator on port ${orchestratorPort} and the API on port ${apiPort}.`);
    // The API reaches the orchestrator that pnpm start started, on its port.
    expect(await status(`${api}/health/orchestrator`)).toBe(200);

    const services = liveDescendants(child.pid!);
    expect(services.length).toBeGreaterThanOrEqual(2);
    child.kill('SIGTERM');
    expect({ code: await exited, output }).toMatchObject({ code: 0 });
    for (const service of services) expect(liveProcessGroup(service.pgid)).toEqual([]);
  });
});
