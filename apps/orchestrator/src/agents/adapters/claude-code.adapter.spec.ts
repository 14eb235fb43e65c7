import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  USAGE_LIMITS,
  agentSchema,
  logDataSchema,
  progressDataSchema,
  resultDataSchema,
  usageDataSchema,
} from '@mosaic/orchestrator-contract';
import type { AgentMessage, AgentStream } from '../agent-output';
import { ClaudeCodeAdapter } from './claude-code.adapter';

const adapter = new ClaudeCodeAdapter();
const FIXTURE = readFileSync(join(__dirname, 'fixtures', 'claude-code-write-edit.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean);

const SCHEMAS = { progress: progressDataSchema, log: logDataSchema, usage: usageDataSchema, result: resultDataSchema };

function expectContractValid(messages: AgentMessage[]): void {
  for (const message of messages) expect(SCHEMAS[message.type].safeParse(message.data)).toMatchObject({ success: true });
}

function parseAll(lines: readonly string[], stream: AgentStream = 'stdout') {
  const parser = adapter.parser({});
  const messages = lines.flatMap((line) => parser.parse(stream, line));
  return { parser, messages };
}

const line = (value: unknown) => JSON.stringify(value);
const assistant = (...content: unknown[]) => line({ type: 'assistant', message: { role: 'assistant', content } });
const toolUse = (id: string, name: string, input: unknown) => ({ type: 'tool_use', id, name, input });
const result = (fields: Record<string, unknown>) =>
  line({
    type: 'result',
    subtype: 'success',
    is_error: false,
    result: 'All done.',
    total_cost_usd: 0.0123,
    usage: { input_tokens: 1000, cache_creation_input_tokens: 200, cache_read_input_tokens: 300, output_tokens: 50 },
    modelUsage: { 'claude-sonnet-4-5': { inputTokens: 1000, outputTokens: 50 } },
    permission_denials: [],
    ...fields,
  });

describe('ClaudeCodeAdapter.launch', () => {
  const input = {
    program: '/opt/bin/claude',
    agent: agentSchema.parse({ kind: 'claude-code' }),
    prompt: 'Fix the failing test',
    home: '/sessions/s1/home',
    credentials: { ANTHROPIC_API_KEY: 'sk-1', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', OPENAI_API_KEY: 'not-for-claude' },
  };

  it('runs `claude -p` printing stream-json, edits accepted and Bash allowed, the prompt last', () => {
    expect(adapter.launch(input).argv).toEqual([
      '/opt/bin/claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--permission-mode',
      'acceptEdits',
      '--allowedTools',
      'Bash',
      '--',
      'Fix the failing test',
    ]);
  });

  it('passes the model and the turn limit when the task names them', () => {
    const argv = adapter.launch({
      ...input,
      agent: agentSchema.parse({ kind: 'claude-code', model: 'claude-opus-4-1', max_turns: 12 }),
    }).argv;
    expect(argv.slice(9)).toEqual(['--model', 'claude-opus-4-1', '--max-turns', '12', '--', 'Fix the failing test']);
  });

  it('keeps a prompt that looks like an option an argument', () => {
    expect(adapter.launch({ ...input, prompt: '--dangerously-skip-permissions' }).argv.slice(-2)).toEqual([
      '--',
      '--dangerously-skip-permissions',
    ]);
  });

  it("gives only Claude Code's credentials, its home, and no update checks or telemetry", () => {
    expect(adapter.launch(input).env).toEqual({
      ANTHROPIC_API_KEY: 'sk-1',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      HOME: '/sessions/s1/home',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
    });
  });

  it('is the claude-code kind, found through CLAUDE_CODE_PATH or `claude`', () => {
    expect(adapter).toMatchObject({ kind: 'claude-code', programVariable: 'CLAUDE_CODE_PATH', defaultProgram: 'claude' });
    expect(adapter.credentialVariables).toEqual(
      expect.arrayContaining(['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_BASE_URL']),
    );
  });
});

describe('ClaudeCodeParser', () => {
  it('logs the init line with the model, the directory and the number of tools', () => {
    const init = line({ type: 'system', subtype: 'init', model: 'claude-sonnet-4-5', cwd: '/workspace', tools: ['Bash', 'Edit', 'Write'] });
    expect(parseAll([init]).messages).toEqual([
      { type: 'log', data: { stream: 'stdout', line: 'Claude Code started: model claude-sonnet-4-5, cwd /workspace, 3 tools' } },
    ]);
  });

  it("logs the agent's text, a line per line", () => {
    expect(parseAll([assistant({ type: 'text', text: 'First.\n\nSecond.' })]).messages).toEqual([
      { type: 'log', data: { stream: 'stdout', line: 'First.' } },
      { type: 'log', data: { stream: 'stdout', line: 'Second.' } },
    ]);
  });

  it('reports each tool use as progress naming the tool and what it works on', () => {
    const uses = [
      toolUse('t1', 'Write', { file_path: 'src/a.ts', content: 'x' }),
      toolUse('t2', 'Edit', { file_path: 'src/a.ts', old_string: 'x', new_string: 'y' }),
      toolUse('t3', 'Read', { file_path: '/workspace/README.md' }),
      toolUse('t4', 'Bash', { command: 'npm test', description: 'run the tests' }),
      toolUse('t5', 'Glob', { pattern: 'src/**/*.ts' }),
      toolUse('t6', 'Grep', { pattern: 'TODO', path: 'src' }),
      toolUse('t7', 'TodoWrite', { todos: [] }),
      toolUse('t8', 'Write', { content: 'no path' }),
    ];
    expect(parseAll([assistant(...uses)]).messages.map((message) => message.data)).toEqual([
      { message: 'Write src/a.ts' },
      { message: 'Edit src/a.ts' },
      { message: 'Read /workspace/README.md' },
      { message: 'Bash: npm test' },
      { message: 'Glob src/**/*.ts' },
      { message: 'Grep TODO' },
      { message: 'TodoWrite' },
      { message: 'Write' },
    ]);
  });

  it('does not report the partial usage of assistant lines', () => {
    const partial = line({ type: 'assistant', message: { content: [], usage: { input_tokens: 10, output_tokens: 1 } } });
    expect(parseAll([partial]).messages).toEqual([]);
  });

  it('logs a failed tool use on stderr, named as its progress was', () => {
    const failed = line({
      type: 'user',
      message: { content: [{ type: 'tool_result', tool_use_id: 't1', is_error: true, content: 'This command requires approval' }] },
    });
    const succeeded = line({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] } });
    expect(parseAll([assistant(toolUse('t1', 'Bash', { command: 'git init' })), succeeded, failed]).messages.slice(1)).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'Bash: git init failed: This command requires approval' } },
    ]);
  });

  it("reports the result line's totals as usage, then the summary, and a success verdict", () => {
    const { parser, messages } = parseAll([result({})]);
    expect(messages).toEqual([
      { type: 'usage', data: { input_tokens: 1500, output_tokens: 50, cost_usd: 0.0123, model: 'claude-sonnet-4-5' } },
      { type: 'result', data: { summary: 'All done.' } },
    ]);
    expect(parser.verdict).toEqual({ succeeded: true });
  });

  it('logs each denied tool use with what it was denied on', () => {
    const denials = [
      { tool_name: 'Write', tool_use_id: 't1', tool_input: { file_path: '/etc/hosts', content: 'x' } },
      { tool_name: 'Bash', tool_use_id: 't2', tool_input: { command: 'curl example.org' } },
    ];
    expect(parseAll([result({ permission_denials: denials })]).messages.slice(2)).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'Permission denied: Write /etc/hosts' } },
      { type: 'log', data: { stream: 'stderr', line: 'Permission denied: Bash: curl example.org' } },
    ]);
  });

  it('fails with the agent message when the result is an error, even of subtype success', () => {
    const apiError = result({
      is_error: true,
      result: 'API Error: 500 Internal server error',
      usage: { input_tokens: 0, output_tokens: 0 },
    });
    const { parser, messages } = parseAll([apiError]);
    expect(parser.verdict).toEqual({ succeeded: false, message: 'API Error: 500 Internal server error' });
    expect(messages[1]).toEqual({
      type: 'result',
      data: { summary: 'API Error: 500 Internal server error', error: 'API Error: 500 Internal server error' },
    });
  });

  it('fails with the errors, or the subtype, when the result has no text', () => {
    const maxTurns = result({
      subtype: 'error_max_turns',
      is_error: true,
      result: undefined,
      errors: ['Reached maximum number of turns (1)'],
    });
    expect(parseAll([maxTurns]).parser.verdict).toEqual({ succeeded: false, message: 'Reached maximum number of turns (1)' });
    expect(parseAll([maxTurns]).messages[1]).toEqual({ type: 'result', data: { error: 'Reached maximum number of turns (1)' } });
    const bare = result({ subtype: 'error_during_execution', is_error: true, result: undefined });
    expect(parseAll([bare]).parser.verdict).toEqual({ succeeded: false, message: 'error_during_execution' });
  });

  it('has no verdict before the result line', () => {
    expect(parseAll(FIXTURE.slice(0, -1)).parser.verdict).toBeUndefined();
  });

  it('spreads totals above what one report may count over several, with the same sums', () => {
    const huge = result({ usage: { input_tokens: 250_000_000, cache_read_input_tokens: 60_000_000, output_tokens: 3 } });
    const usage = parseAll([huge])
      .messages.filter((message) => message.type === 'usage')
      .map((message) => message.data);
    expectContractValid(usage.map((data) => ({ type: 'usage', data })));
    expect(usage).toHaveLength(4);
    expect(usage.reduce((sum, data) => sum + (data.input_tokens ?? 0), 0)).toBe(310_000_000);
    expect(usage.reduce((sum, data) => sum + (data.output_tokens ?? 0), 0)).toBe(3);
    expect(usage.filter((data) => data.cost_usd !== undefined)).toHaveLength(1);
  });

  it('leaves out counts no run could have spent', () => {
    const garbage = result({
      usage: { input_tokens: Number.MAX_SAFE_INTEGER, output_tokens: -5 },
      total_cost_usd: USAGE_LIMITS.costUsdPerReport * 2,
    });
    expect(parseAll([garbage]).messages[0].type).toBe('result');
  });

  it("cuts a long summary to the contract's 16 KiB", () => {
    const { messages } = parseAll([result({ result: 'é'.repeat(20_000) })]);
    expect(messages[1]).toEqual({ type: 'result', data: { summary: 'é'.repeat(16 * 1024) } });
  });

  it('logs API retries on stderr', () => {
    const retry = line({
      type: 'system',
      subtype: 'api_retry',
      attempt: 2,
      max_retries: 10,
      retry_delay_ms: 1177,
      error_status: 529,
      error: 'overloaded',
    });
    expect(parseAll([retry]).messages).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'Model API retry 2/10 after 529 overloaded' } },
    ]);
  });

  it('logs lines it does not know as they are, on their stream', () => {
    const unknown = line({ type: 'rate_limit_event', status: 'allowed' });
    expect(parseAll(['not json', unknown, '[1,2]']).messages.map((message) => message.data)).toEqual([
      { stream: 'stdout', line: 'not json' },
      { stream: 'stdout', line: unknown },
      { stream: 'stdout', line: '[1,2]' },
    ]);
    expect(parseAll([result({})], 'stderr').messages).toEqual([{ type: 'log', data: { stream: 'stderr', line: result({}) } }]);
  });

  describe('a recorded run (Write, then Edit, then a final text)', () => {
    const { parser, messages } = parseAll(FIXTURE);
    const final = JSON.parse(FIXTURE.at(-1)!) as { usage: Record<string, number>; total_cost_usd: number; result: string };

    it('reports each tool use as progress', () => {
      expect(messages.filter((message) => message.type === 'progress').map((message) => message.data)).toEqual([
        { message: 'Write src/greeting.ts' },
        { message: 'Edit src/greeting.ts' },
      ]);
    });

    it("reports usage whose sums equal the result line's totals", () => {
      const usage = messages.filter((message) => message.type === 'usage').map((message) => message.data);
      const { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens } = final.usage;
      expect(usage).toEqual([
        {
          input_tokens: input_tokens + cache_creation_input_tokens + cache_read_input_tokens,
          output_tokens,
          cost_usd: final.total_cost_usd,
          model: 'claude-sonnet-4-5',
        },
      ]);
      expect(usage[0]).toMatchObject({ input_tokens: 7980, output_tokens: 104, cost_usd: 0.016896 });
    });

    it("ends with the agent's final text as summary, and succeeded", () => {
      expect(messages.filter((message) => message.type === 'result')).toEqual([
        { type: 'result', data: { summary: 'Created src/greeting.ts and changed the greeting to "hello, world".' } },
      ]);
      expect(parser.verdict).toEqual({ succeeded: true });
    });

    it('logs the init line and the text, nothing else', () => {
      expect(messages.filter((message) => message.type === 'log').map((message) => message.data)).toEqual([
        { stream: 'stdout', line: 'Claude Code started: model claude-sonnet-4-5, cwd /workspace, 26 tools' },
        { stream: 'stdout', line: 'I will create the greeting module.' },
        { stream: 'stdout', line: 'Created src/greeting.ts and changed the greeting to "hello, world".' },
      ]);
    });
  });

  describe('properties', () => {
    const stream = fc.constantFrom<AgentStream>('stdout', 'stderr');

    it('never throws on any text, and gives contract-valid messages', () => {
      fc.assert(
        fc.property(stream, fc.string({ unit: 'binary', maxLength: 2000 }), (on, text) =>
          expectContractValid(parseAll([text], on).messages),
        ),
      );
    });

    it('never throws on a truncated recorded line, and gives contract-valid messages', () => {
      const prefixes = fc.constantFrom(...FIXTURE).chain((recorded) => fc.nat(recorded.length).map((length) => recorded.slice(0, length)));
      fc.assert(fc.property(fc.array(prefixes, { maxLength: 8 }), (lines) => expectContractValid(parseAll(lines).messages)));
    });

    it('never throws on lines of its types with arbitrary fields, and gives contract-valid messages', () => {
      const anyValue = fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary' }), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(-1));
      const event = fc.record({
        type: fc.constantFrom('system', 'assistant', 'user', 'result'),
        subtype: fc.constantFrom('init', 'api_retry', 'success', 'error_max_turns', 'other'),
        message: fc.record({
          content: fc.array(
            fc.record({
              type: fc.constantFrom('text', 'tool_use', 'tool_result'),
              text: anyValue,
              name: anyValue,
              input: anyValue,
              id: anyValue,
              tool_use_id: anyValue,
              is_error: fc.boolean(),
              content: anyValue,
            }),
          ),
        }),
        result: anyValue,
        errors: anyValue,
        usage: fc.dictionary(
          fc.constantFrom('input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'),
          anyValue,
        ),
        total_cost_usd: anyValue,
        modelUsage: fc.dictionary(fc.string({ unit: 'binary' }), anyValue),
        permission_denials: fc.array(fc.record({ tool_name: anyValue, tool_input: anyValue })),
      });
      fc.assert(fc.property(fc.array(event, { maxLength: 4 }), (events) => expectContractValid(parseAll(events.map(line)).messages)));
    });
  });
});
