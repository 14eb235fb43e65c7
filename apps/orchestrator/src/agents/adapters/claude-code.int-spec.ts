import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FakeAnthropic, type Turn, WRITE_THEN_EDIT_GREETING, startFakeAnthropic } from '@mosaic/fake-model';
import { agentSchema } from '@mosaic/orchestrator-contract';
import type { AgentMessage, AgentStream } from '../agent-output';
import type { AgentOutputParser } from './agent-adapter';
import { ClaudeCodeAdapter } from './claude-code.adapter';

/*
 * The real `claude` program (the root dev dependency) against a scripted fake
 * Messages API on loopback, started with what the adapter's launch() gives and
 * read by its parser, as a session would.
 */
const CLAUDE = resolve(__dirname, '../../../../../node_modules/.bin/claude');
const RUN_TIMEOUT_MS = 20_000;

interface Run {
  readonly child: ChildProcess;
  readonly parser: AgentOutputParser;
  readonly messages: AgentMessage[];
  /** The program's own stdout lines, to compare with what the parser made of them. */
  readonly stdout: string[];
  readonly exited: Promise<number | null>;
}

let fake: FakeAnthropic | undefined;
let run: Run | undefined;
let directory: string | undefined;

afterEach(async () => {
  // The .bin entry is a shell script that runs the binary as its child: end the whole group.
  if (run !== undefined && run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
  await run?.exited;
  await fake?.close();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  [fake, run, directory] = [undefined, undefined, undefined];
});

async function startClaude(script: Turn[], env: Record<string, string> = {}): Promise<{ run: Run; workspace: string }> {
  fake = await startFakeAnthropic(script);
  directory = mkdtempSync(join(tmpdir(), 'claude-code-int-'));
  const [home, workspace] = [join(directory, 'home'), join(directory, 'workspace')];
  mkdirSync(home);
  mkdirSync(workspace);
  const adapter = new ClaudeCodeAdapter();
  const launch = adapter.launch({
    program: CLAUDE,
    agent: agentSchema.parse({ kind: 'claude-code', model: 'claude-sonnet-4-5', max_turns: 10 }),
    prompt: 'Add a greeting module',
    home,
    credentials: { ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: 'sk-fake-key' },
  });
  const child = spawn(launch.argv[0], launch.argv.slice(1), {
    cwd: workspace,
    env: { PATH: process.env.PATH ?? '', ...launch.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const parser = adapter.parser({});
  const messages: AgentMessage[] = [];
  const stdout: string[] = [];
  const read = (stream: AgentStream, lines: NodeJS.ReadableStream) =>
    createInterface({ input: lines }).on('line', (line) => {
      if (stream === 'stdout') stdout.push(line);
      messages.push(...parser.parse(stream, line));
    });
  read('stdout', child.stdout!);
  read('stderr', child.stderr!);
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  run = { child, parser, messages, stdout, exited };
  return { run, workspace };
}

async function finished(started: Run): Promise<number | null> {
  const timeout = sleep(RUN_TIMEOUT_MS, undefined, { ref: false }).then(() => 'timeout' as const);
  const code = await Promise.race([started.exited, timeout]);
  if (code === 'timeout') throw new Error(`claude did not exit within ${RUN_TIMEOUT_MS} ms; its output: ${started.stdout.join('\n')}`);
  return code;
}

type Data<T extends AgentMessage['type']> = Extract<AgentMessage, { type: T }>['data'];

function ofType<T extends AgentMessage['type']>(messages: AgentMessage[], type: T): Array<Data<T>> {
  return messages.filter((message) => message.type === type).map((message) => message.data) as unknown as Array<Data<T>>;
}

function modelCalls(): number {
  return fake!.requests.filter((request) => request.method === 'POST' && request.path === '/v1/messages').length;
}

describe('the claude-code adapter with the real claude program', () => {
  it('writes then edits a file, and reports its tool uses, its totals, its summary and success', async () => {
    const { run, workspace } = await startClaude([
      ...WRITE_THEN_EDIT_GREETING,
      // A slow stream: the program waits for it.
      {
        type: 'text',
        text: 'Greeting added.',
        delayMs: 100,
        usage: { input_tokens: 90, output_tokens: 21, cache_read_input_tokens: 1920 },
      },
    ]);

    expect(await finished(run)).toBe(0);
    expect(readFileSync(join(workspace, 'src/greeting.ts'), 'utf8')).toBe("export const greeting = 'hello, world';\n");
    expect(ofType(run.messages, 'progress')).toEqual([{ message: 'Write src/greeting.ts' }, { message: 'Edit src/greeting.ts' }]);

    const printed = JSON.parse(run.stdout.find((line) => line.includes('"type":"result"'))!) as {
      total_cost_usd: number;
      usage: Record<string, number>;
    };
    const { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens } = printed.usage;
    const usage = ofType(run.messages, 'usage');
    expect(usage).toEqual([
      {
        input_tokens: input_tokens + cache_creation_input_tokens + cache_read_input_tokens,
        output_tokens,
        cost_usd: printed.total_cost_usd,
        model: 'claude-sonnet-4-5',
      },
    ]);
    // Every token the fake model reported, cache writes and reads included, and nothing else.
    expect(usage[0]).toMatchObject({ input_tokens: 7980, output_tokens: 104 });
    expect(usage[0].cost_usd).toBeCloseTo(0.016896, 9);

    expect(ofType(run.messages, 'result')).toEqual([{ summary: 'Greeting added.' }]);
    expect(run.parser.verdict).toEqual({ succeeded: true });
    expect(modelCalls()).toBe(3);
    expect(fake!.requests.find((request) => request.method === 'POST')).toMatchObject({
      headers: { 'x-api-key': 'sk-fake-key' },
      body: { model: 'claude-sonnet-4-5', stream: true },
    });
  });

  it('fails with the program message when the model answers an HTTP error it does not retry', async () => {
    const { run } = await startClaude([{ type: 'error', status: 500, errorType: 'api_error', message: 'Internal server error' }], {
      CLAUDE_CODE_MAX_RETRIES: '0',
    });

    expect(await finished(run)).toBe(1);
    expect(run.parser.verdict).toEqual({ succeeded: false, message: expect.stringMatching(/^API Error: 500 Internal server error/) });
    expect(ofType(run.messages, 'usage')).toEqual([{ input_tokens: 0, output_tokens: 0, cost_usd: 0 }]);
    expect(modelCalls()).toBe(1);
  });

  it('retries an overloaded model, logging the retry, and succeeds with the next answer', async () => {
    const { run } = await startClaude([{ type: 'error', status: 529, errorType: 'overloaded_error', message: 'Overloaded' }]);

    expect(await finished(run)).toBe(0);
    expect(ofType(run.messages, 'log')).toContainEqual({ stream: 'stderr', line: 'Model API retry 1/10 after 529 overloaded' });
    expect(run.parser.verdict).toEqual({ succeeded: true });
    expect(ofType(run.messages, 'result')).toEqual([{ summary: 'done' }]);
    expect(modelCalls()).toBe(2);
  });

  it('retries a stream cut off midway, and reports the totals the program printed', async () => {
    const { run, workspace } = await startClaude([
      {
        type: 'tool_use',
        name: 'Write',
        input: { file_path: 'cut.txt', content: 'never' },
        // Inside the tool use's input: a block that arrived whole may be run even when the stream is cut after it.
        cutAfterEvents: 3,
        usage: { input_tokens: 5000, output_tokens: 500 },
      },
    ]);

    expect(await finished(run)).toBe(0);
    expect(() => readFileSync(join(workspace, 'cut.txt'))).toThrow();
    expect(ofType(run.messages, 'progress')).toEqual([]);
    expect(ofType(run.messages, 'log')).toContainEqual({ stream: 'stderr', line: 'Model API retry 1/10 after unknown' });
    // Whether the cut answer's first event is counted is a race inside the program: its own totals decide.
    const printed = JSON.parse(run.stdout.find((line) => line.includes('"type":"result"'))!) as { usage: Record<string, number> };
    expect(ofType(run.messages, 'usage')).toEqual([
      expect.objectContaining({ input_tokens: printed.usage.input_tokens, output_tokens: printed.usage.output_tokens }),
    ]);
    expect(run.parser.verdict).toEqual({ succeeded: true });
    expect(ofType(run.messages, 'result')).toEqual([{ summary: 'done' }]);
    expect(modelCalls()).toBe(2);
  });

  it('without retries, asks again without a stream when a stream is cut off midway', async () => {
    const { run } = await startClaude([{ type: 'text', text: 'cut off here', cutAfterEvents: 3 }], { CLAUDE_CODE_MAX_RETRIES: '0' });

    expect(await finished(run)).toBe(0);
    expect(
      fake!.requests.filter((request) => request.method === 'POST').map((request) => (request.body as { stream: boolean }).stream),
    ).toEqual([true, false]);
    expect(run.parser.verdict).toEqual({ succeeded: true });
  });

  it('fails when the connection drops before any event and retries are spent', async () => {
    const { run } = await startClaude([{ type: 'text', text: 'never sent', cutAfterEvents: 0 }], { CLAUDE_CODE_MAX_RETRIES: '0' });

    expect(await finished(run)).toBe(1);
    expect(run.parser.verdict).toEqual({ succeeded: false, message: expect.stringMatching(/^API Error: Connection dropped/) });
    expect(modelCalls()).toBe(1);
  });

  it('waits, printing no result, while the model stays silent', async () => {
    const { run } = await startClaude([{ type: 'silence' }]);
    for (let waited = 0; modelCalls() === 0 && waited < RUN_TIMEOUT_MS; waited += 50) await sleep(50);
    await sleep(2_000);

    expect(modelCalls()).toBe(1);
    expect(run.child.exitCode).toBeNull();
    expect(run.parser.verdict).toBeUndefined();
    expect(ofType(run.messages, 'result')).toEqual([]);
    expect(ofType(run.messages, 'usage')).toEqual([]);
  });
});
