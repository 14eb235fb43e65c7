import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WRITE_THEN_EDIT_GREETING, startFakeAnthropic, type FakeAnthropic } from '@mosaic/fake-model';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { freePort, startService, stopLeavingNoProcesses, withServiceOutput, type ServiceProcess } from '../support/service-process';

const ORCHESTRATOR_ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_ENTRY = join(__dirname, '../../apps/api/dist/main.js');
const CLAUDE = join(__dirname, '../../node_modules/.bin/claude');
const ORCHESTRATOR_KEY = 'e2e-claude-code-orchestrator-key';
const OPERATOR_TOKEN = 'e2e-claude-code-operator-token';
const ANTHROPIC_KEY = 'sk-ant-e2e-model-key-never-logged';

jest.setTimeout(90_000);

interface SessionBody {
  id: string;
  status: string;
  error: string | null;
  usage: { input_tokens: number; output_tokens: number; cost_usd: number };
  events: { type: string; status: string | null; data: Record<string, unknown> }[];
}

/**
 * (v3) The real `claude` program as a task's agent, through the built API and orchestrator, against the bundled fake
 * Messages API: one session that writes and edits a file over three model calls, then one whose model refuses every call.
 */
describe('claude-code agents (built services, the real claude program)', () => {
  let fake: FakeAnthropic;
  let orchestrator: ServiceProcess | undefined;
  let api: ServiceProcess | undefined;
  let scratch: string;
  let source: string;

  const call = <T = unknown>(method: string, path: string, body?: unknown) =>
    request<T>(method, `${api!.url}${path}`, { body, token: OPERATOR_TOKEN });
  const withOutput = (body: () => Promise<void>) => withServiceOutput(() => [api, orchestrator], body, 8_000);

  async function runTask(task: Record<string, unknown>): Promise<SessionBody> {
    const created = await call<{ id: string }>('POST', '/tasks', task);
    expect(created.status).toBe(201);
    const dispatched = await call<{ session: { id: string } }>('POST', `/tasks/${created.body.id}/dispatch`);
    expect(dispatched.status).toBe(202);
    return eventually(async () => {
      const { body } = await call<SessionBody>('GET', `/orchestrator/sessions/${dispatched.body.session.id}`);
      expect(['completed', 'failed', 'killed', 'cancelled']).toContain(body.status);
      return body;
    }, 60_000);
  }

  beforeAll(async () => {
    fake = await startFakeAnthropic([
      // The first session: Write, Edit, then its final text (the usage figures are the fake model's, cache tokens included).
      ...WRITE_THEN_EDIT_GREETING,
      { type: 'text', text: 'Greeting added.', usage: { input_tokens: 90, output_tokens: 21, cache_read_input_tokens: 1920 } },
      // The second session: one new file, then its summary; its branch is pushed.
      {
        type: 'tool_use',
        name: 'Write',
        input: { file_path: 'NOTES.md', content: 'Pushed by the agent.\n' },
        usage: { input_tokens: 500, output_tokens: 20 },
      },
      { type: 'text', text: 'Notes written.', usage: { input_tokens: 100, output_tokens: 5 } },
      // The third: the model refuses each call, retries included.
      ...Array.from({ length: 8 }, () => ({
        type: 'error' as const,
        status: 400,
        errorType: 'invalid_request_error',
        message: 'prompt is too long',
      })),
    ]);
    scratch = mkdtempSync(join(tmpdir(), 'claude-code-e2e-'));
    source = join(scratch, 'source');
    mkdirSync(join(source, 'src'), { recursive: true });
    writeFileSync(join(source, 'README.md'), '# Greeter\n');
    git(source, 'init', '--quiet', '--initial-branch=main');
    git(source, 'add', '.');
    git(source, 'commit', '--quiet', '-m', 'The greeter');
    const orchestratorPort = await freePort();
    orchestrator = await startService({
      name: 'orchestrator',
      entry: ORCHESTRATOR_ENTRY,
      port: orchestratorPort,
      env: {
        ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
        CLAUDE_CODE_PATH: CLAUDE,
        ANTHROPIC_BASE_URL: fake.url,
        ANTHROPIC_API_KEY: ANTHROPIC_KEY,
        SHUTDOWN_GRACE_MS: '1000',
      },
    });
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ORCHESTRATOR_URL: orchestrator.url,
        ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
      },
    });
  });

  afterAll(async () => {
    await api?.stop();
    await stopLeavingNoProcesses(orchestrator);
    await fake?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const branchesOf = (repository: string) => git(repository, 'branch', '--list', '--format=%(refname:short)').split('\n').filter(Boolean);

  it(
    'writes and edits a file over three model calls and ends completed: each tool use a progress event, usage the program’s totals',
    withOutput(async () => {
      const session = await runTask({
        title: 'Add a greeting module',
        agent: { kind: 'claude-code', model: 'claude-sonnet-4-5', max_turns: 10 },
        repository: { url: `file://${source}` },
      });

      expect(session).toMatchObject({ status: 'completed', error: null });
      const progress = session.events.filter((event) => event.type === 'progress').map((event) => event.data.message);
      expect(progress).toEqual(['Write src/greeting.ts', 'Edit src/greeting.ts']);
      // Every token the fake model reported, cache writes and reads included; the cost as the program priced them.
      expect(session.usage.input_tokens).toBe(7980);
      expect(session.usage.output_tokens).toBe(104);
      expect(session.usage.cost_usd).toBeCloseTo(0.016896, 6);
      expect(session.events.find((event) => event.type === 'result')?.data).toMatchObject({ summary: 'Greeting added.' });
      expect(session.events.some((event) => event.type === 'log' && event.data.line === 'I will create the greeting module.')).toBe(true);
      // The model's key went to the program (the fake saw it) and nowhere else.
      expect(fake.requests.some((sent) => sent.headers['x-api-key'] === ANTHROPIC_KEY)).toBe(true);
      expect(JSON.stringify(session)).not.toContain(ANTHROPIC_KEY);
      expect(orchestrator!.output()).not.toContain(ANTHROPIC_KEY);

      // Its changes come back as artifacts, sent before its end; the patch applies to a fresh clone; the source is untouched.
      const { body: listed } = await call<{ artifacts: { name: string; media_type: string }[] }>(
        'GET',
        `/orchestrator/sessions/${session.id}/artifacts`,
      );
      expect(listed.artifacts.map((artifact) => [artifact.name, artifact.media_type])).toEqual([
        ['changes.json', 'application/json'],
        ['changes.patch', 'text/x-diff'],
      ]);
      const changes = await call<unknown>('GET', `/orchestrator/sessions/${session.id}/artifacts/changes.json`);
      expect(changes.body).toEqual([{ path: 'src/greeting.ts', status: 'added', additions: 1, deletions: 0 }]);
      const patch = await fetch(`${api!.url}/orchestrator/sessions/${session.id}/artifacts/changes.patch`, {
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      }).then((response) => response.text());
      expect(patch).toContain("+export const greeting = 'hello, world';");
      const clone = join(scratch, 'clone');
      git(scratch, 'clone', '--quiet', source, clone);
      writeFileSync(join(scratch, 'changes.patch'), patch);
      git(clone, 'apply', '--check', join(scratch, 'changes.patch'));
      expect(branchesOf(source)).toEqual(['main']);
    }),
  );

  it(
    'pushes the branch mosaic/<session id> of a task that asks repository.push, and reports it',
    withOutput(async () => {
      const session = await runTask({
        title: 'Write the notes',
        agent: { kind: 'claude-code', model: 'claude-sonnet-4-5' },
        repository: { url: `file://${source}`, ref: 'main', push: true },
      });

      expect(session.status).toBe('completed');
      const orchestratorId = (await call<{ orchestrator_session_id: string }>('GET', `/orchestrator/sessions/${session.id}`)).body
        .orchestrator_session_id;
      const branch = `mosaic/${orchestratorId}`;
      expect(session.events.some((event) => event.type === 'result' && event.data.branch === branch)).toBe(true);
      expect(branchesOf(source)).toEqual(['main', branch]);
      expect(git(source, 'show', `${branch}:NOTES.md`)).toBe('Pushed by the agent.\n');
    }),
  );

  it(
    'ends failed, agent_error, when the model refuses every call; its message in the result',
    withOutput(async () => {
      const session = await runTask({ title: 'Too long a prompt', agent: { kind: 'claude-code', model: 'claude-sonnet-4-5' } });

      expect(session).toMatchObject({ status: 'failed', error: 'agent_error' });
      expect(String(session.events.find((event) => event.type === 'result')?.data.error)).toMatch(/prompt is too long/i);
    }),
  );

  it(
    'refuses a task whose agent names no known kind, naming the field; nothing is stored',
    withOutput(async () => {
      const refused = await call<{ error: { code: string; message: string } }>('POST', '/tasks', {
        title: 'Unknown agent',
        agent: { kind: 'copilot' },
      });

      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('bad_request');
      expect(refused.body.error.message).toMatch(/^agent\.kind: /);
    }),
  );
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@localhost', ...args], { cwd, encoding: 'utf8' });
}
