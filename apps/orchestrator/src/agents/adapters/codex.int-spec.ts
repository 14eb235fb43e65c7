import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { type FakeResponsesServer, startFakeResponsesServer } from '../../../../../test/support/fake-openai-responses';
import type { AgentMessage } from '../agent-output';
import { allValid, ofType } from './adapter-replay.behaviour';
import { CODEX_DEFAULT_MODEL, codexAdapter } from './codex.adapter';
import { DEFAULT_PRICES } from '../../config/agent-prices';

/** The real program, where the workspace has it installed (the `@openai/codex` dev dependency). */
const CODEX = resolve(__dirname, '../../../../../node_modules/.bin/codex');
const describeWithCodex = existsSync(CODEX) ? describe : describe.skip;

describeWithCodex('the real codex program, through the codex adapter, against a local Responses API', () => {
  let server: FakeResponsesServer;

  beforeAll(async () => {
    server = await startFakeResponsesServer([{ command: 'printf "hello\\n" > hello.txt' }, { text: 'Wrote hello.txt.' }], {
      input_tokens: 1000,
      cached_tokens: 400,
      output_tokens: 50,
    });
  });

  afterAll(() => server.close());

  it('runs the command the model asks for and reports it, its usage and its final text', async () => {
    const root = mkdtempSync(join(tmpdir(), 'codex-int-'));
    const [home, workspace] = [join(root, 'home'), join(root, 'workspace')];
    mkdirSync(workspace, { recursive: true });
    const agent = { kind: 'codex' as const };
    const launch = codexAdapter.launch({
      program: CODEX,
      agent,
      prompt: 'Write hello.txt',
      home,
      credentials: { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: server.baseUrl },
    });
    for (const [path, content] of Object.entries(launch.files ?? {})) {
      mkdirSync(dirname(join(home, path)), { recursive: true });
      writeFileSync(join(home, path), content);
    }

    const parser = codexAdapter.parser(DEFAULT_PRICES, agent);
    const messages: AgentMessage[] = [];
    const child = spawn(launch.argv[0], launch.argv.slice(1), {
      cwd: workspace,
      env: { PATH: process.env.PATH, ...launch.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout = createInterface({ input: child.stdout });
    const stderr = createInterface({ input: child.stderr });
    stdout.on('line', (line) => messages.push(...parser.parse('stdout', line)));
    stderr.on('line', (line) => messages.push(...parser.parse('stderr', line)));
    const exitCode = await new Promise<number | null>((done) => child.on('close', done));

    expect(exitCode).toBe(0);
    expect(readFileSync(join(workspace, 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(allValid(messages)).toBe(true);
    expect(ofType(messages, 'progress').map((data) => data.message)).toContain(`Bash: /bin/bash -lc "printf \\"hello\\\\n\\" > hello.txt"`);
    expect(ofType(messages, 'usage')).toEqual([
      { input_tokens: 2000, output_tokens: 100, cost_usd: (1200 * 5 + 800 * 0.5 + 100 * 30) / 1e6, model: CODEX_DEFAULT_MODEL },
    ]);
    expect(ofType(messages, 'result')).toEqual([{ summary: 'Wrote hello.txt.' }]);
    expect(parser.verdict).toEqual({ succeeded: true });
    expect(server.requests).toHaveLength(2);
  });
});
