import fc from 'fast-check';
import { allValid, fixtureLines, ofType, parseAll } from './adapter-replay.behaviour';
import type { AgentOutputParser, LaunchInput } from './agent-adapter';
import { CODEX_DEFAULT_MODEL, codexAdapter } from './codex.adapter';
import { DEFAULT_PRICES } from '../../config/agent-prices';

const PRICES = { [CODEX_DEFAULT_MODEL]: { input: 1, cached_input: 0.1, output: 10 } };

function parser(model?: string): AgentOutputParser {
  return codexAdapter.parser(PRICES, { kind: 'codex', ...(model === undefined ? {} : { model }) });
}

function line(event: unknown): string {
  return JSON.stringify(event);
}

function completed(item: Record<string, unknown>): string {
  return line({ type: 'item.completed', item: { id: 'item_1', ...item } });
}

function turnCompleted(input: number, cached: number, output: number): string {
  return line({ type: 'turn.completed', usage: { input_tokens: input, cached_input_tokens: cached, output_tokens: output } });
}

const ITEM_TYPES = ['agent_message', 'reasoning', 'command_execution', 'file_change', 'mcp_tool_call', 'web_search', 'todo_list', 'error'];
const EVENT_TYPES = [
  'thread.started',
  'turn.started',
  'turn.completed',
  'turn.failed',
  'item.started',
  'item.updated',
  'item.completed',
  'error',
];
/** Events of the right types with fields of any shape, numbers out of range included. */
const eventLike = fc
  .record({
    type: fc.constantFrom(...EVENT_TYPES),
    item: fc
      .record({ id: fc.string(), type: fc.constantFrom(...ITEM_TYPES) })
      .chain((item) =>
        fc
          .dictionary(
            fc.constantFrom('text', 'command', 'exit_code', 'status', 'changes', 'server', 'tool', 'error', 'query', 'items', 'message'),
            fc.anything(),
          )
          .map((fields) => ({ ...fields, ...item })),
      ),
    usage: fc.dictionary(
      fc.constantFrom('input_tokens', 'cached_input_tokens', 'output_tokens'),
      fc.oneof(fc.integer(), fc.double(), fc.anything()),
    ),
    error: fc.anything(),
    message: fc.anything(),
  })
  .map((event) => JSON.stringify(event));

const launchInput: LaunchInput = {
  program: '/opt/codex/bin/codex',
  agent: { kind: 'codex' },
  prompt: '--fix the tests',
  home: '/work/s1/home',
  credentials: { OPENAI_API_KEY: 'sk-test' },
};

describe('codexAdapter.launch', () => {
  it('runs codex exec with JSON events, its own sandbox off, the default model and the prompt after --', () => {
    expect(codexAdapter.launch(launchInput)).toEqual({
      argv: [
        '/opt/codex/bin/codex',
        'exec',
        '--json',
        '--skip-git-repo-check',
        '--dangerously-bypass-approvals-and-sandbox',
        '--model',
        CODEX_DEFAULT_MODEL,
        '--',
        '--fix the tests',
      ],
      env: { OPENAI_API_KEY: 'sk-test', CODEX_HOME: '/work/s1/home', HOME: '/work/s1/home' },
    });
  });

  it('passes the task model and ignores max_turns, which codex does not have', () => {
    const { argv } = codexAdapter.launch({ ...launchInput, agent: { kind: 'codex', model: 'o4-mini', max_turns: 3 } });
    expect(argv.slice(5, 7)).toEqual(['--model', 'o4-mini']);
    expect(argv).not.toContain('3');
  });

  it('names OPENAI_BASE_URL as a model provider in config.toml, since codex ignores the variable', () => {
    const launch = codexAdapter.launch({
      ...launchInput,
      credentials: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'http://127.0.0.1:9000/v1' },
    });
    expect(launch.files).toEqual({
      'config.toml': [
        'model_provider = "mosaic"',
        '',
        '[model_providers.mosaic]',
        'name = "mosaic"',
        'base_url = "http://127.0.0.1:9000/v1"',
        'env_key = "OPENAI_API_KEY"',
        'wire_api = "responses"',
        '',
      ].join('\n'),
    });
    expect(launch.env.OPENAI_BASE_URL).toBe('http://127.0.0.1:9000/v1');
  });

  it('takes the key from CODEX_API_KEY when that is the only one, and escapes the URL for TOML', () => {
    const launch = codexAdapter.launch({ ...launchInput, credentials: { CODEX_API_KEY: 'k', OPENAI_BASE_URL: 'http://h/"x"\\' } });
    expect(launch.files?.['config.toml']).toContain('base_url = "http://h/\\"x\\"\\\\"\nenv_key = "CODEX_API_KEY"');
  });
});

describe('codex output parser', () => {
  it('reports a completed command as Bash progress, and its failure on stderr', () => {
    const agent = parser();
    expect(
      agent.parse(
        'stdout',
        completed({ type: 'command_execution', command: 'npm test', aggregated_output: 'ok', exit_code: 0, status: 'completed' }),
      ),
    ).toEqual([{ type: 'progress', data: { message: 'Bash: npm test' } }]);
    expect(
      parser().parse(
        'stdout',
        completed({ type: 'command_execution', command: 'npm test', aggregated_output: '', exit_code: 1, status: 'failed' }),
      ),
    ).toEqual([
      { type: 'progress', data: { message: 'Bash: npm test' } },
      { type: 'log', data: { stream: 'stderr', line: 'Bash exited with 1: npm test' } },
    ]);
  });

  it('announces a command when it starts and not again when it completes', () => {
    const agent = parser();
    const item = {
      id: 'item_1',
      type: 'command_execution',
      command: 'make',
      aggregated_output: '',
      exit_code: null,
      status: 'in_progress',
    };
    expect(agent.parse('stdout', line({ type: 'item.started', item }))).toEqual([{ type: 'progress', data: { message: 'Bash: make' } }]);
    expect(agent.parse('stdout', line({ type: 'item.completed', item: { ...item, exit_code: 0, status: 'completed' } }))).toEqual([]);
  });

  it('names a declined command on stderr', () => {
    expect(
      parser().parse(
        'stdout',
        completed({ type: 'command_execution', command: 'rm -rf /', aggregated_output: '', exit_code: null, status: 'declined' }),
      ),
    ).toContainEqual({
      type: 'log',
      data: { stream: 'stderr', line: 'Bash not permitted: rm -rf /' },
    });
  });

  it('reports each file change as Write, Edit or Delete', () => {
    const changes = [
      { path: 'src/new.ts', kind: 'add' },
      { path: 'src/app.ts', kind: 'update' },
      { path: 'src/old.ts', kind: 'delete' },
    ];
    expect(parser().parse('stdout', completed({ type: 'file_change', changes, status: 'completed' }))).toEqual([
      { type: 'progress', data: { message: 'Write src/new.ts' } },
      { type: 'progress', data: { message: 'Edit src/app.ts' } },
      { type: 'progress', data: { message: 'Delete src/old.ts' } },
    ]);
    expect(parser().parse('stdout', completed({ type: 'file_change', changes: changes.slice(0, 1), status: 'failed' }))).toContainEqual({
      type: 'log',
      data: { stream: 'stderr', line: 'File change failed: src/new.ts' },
    });
  });

  it('logs agent messages line by line and keeps reasoning out of the log', () => {
    const agent = parser();
    expect(agent.parse('stdout', completed({ type: 'agent_message', text: 'Done.\n\nTests pass.' }))).toEqual([
      { type: 'log', data: { stream: 'stdout', line: 'Done.' } },
      { type: 'log', data: { stream: 'stdout', line: 'Tests pass.' } },
    ]);
    expect(agent.parse('stdout', completed({ type: 'reasoning', text: '**Planning the fix**' }))).toEqual([]);
  });

  it('names MCP calls, web searches and the to-do list in progress messages', () => {
    const agent = parser();
    expect(
      agent.parse(
        'stdout',
        completed({
          type: 'mcp_tool_call',
          server: 'docs',
          tool: 'search',
          arguments: {},
          status: 'failed',
          error: { message: 'timeout' },
        }),
      ),
    ).toEqual([
      { type: 'progress', data: { message: 'MCP docs.search' } },
      { type: 'log', data: { stream: 'stderr', line: 'MCP docs.search failed: timeout' } },
    ]);
    expect(agent.parse('stdout', completed({ type: 'web_search', query: 'zod strictObject', action: { type: 'search' } }))).toEqual([
      { type: 'progress', data: { message: 'Web search: zod strictObject' } },
    ]);
    const todo = {
      id: 'item_9',
      type: 'todo_list',
      items: [
        { text: 'a', completed: true },
        { text: 'b', completed: false },
      ],
    };
    expect(agent.parse('stdout', line({ type: 'item.started', item: todo }))).toEqual([
      { type: 'progress', data: { message: 'Todo list: 1/2 done' } },
    ]);
    expect(agent.parse('stdout', line({ type: 'item.updated', item: todo }))).toEqual([
      { type: 'progress', data: { message: 'Todo list: 1/2 done' } },
    ]);
  });

  it('logs error items (warnings) and top-level errors on stderr', () => {
    const agent = parser();
    expect(agent.parse('stdout', completed({ type: 'error', message: 'model metadata not found' }))).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'codex: model metadata not found' } },
    ]);
    expect(agent.parse('stdout', line({ type: 'error', message: 'Reconnecting... 1/5' }))).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'codex: Reconnecting... 1/5' } },
    ]);
  });

  it('on turn.completed reports the usage, the last agent message as the result, and success', () => {
    const agent = parser();
    agent.parse('stdout', completed({ type: 'agent_message', text: 'first' }));
    agent.parse('stdout', completed({ type: 'agent_message', text: 'Fixed the bug.' }));
    expect(agent.parse('stdout', turnCompleted(2000, 800, 100))).toEqual([
      {
        type: 'usage',
        data: { input_tokens: 2000, output_tokens: 100, cost_usd: (1200 * 1 + 800 * 0.1 + 100 * 10) / 1e6, model: CODEX_DEFAULT_MODEL },
      },
      { type: 'result', data: { summary: 'Fixed the bug.' } },
    ]);
    expect(agent.verdict).toEqual({ succeeded: true });
  });

  it('succeeds when the turn completes after a retried error', () => {
    const agent = parser();
    agent.parse('stdout', line({ type: 'error', message: 'Reconnecting... 1/5' }));
    expect(agent.verdict).toEqual({ succeeded: false, message: 'Reconnecting... 1/5' });
    agent.parse('stdout', turnCompleted(10, 0, 1));
    expect(agent.verdict).toEqual({ succeeded: true });
  });

  it('fails with the message of turn.failed', () => {
    const agent = parser();
    expect(agent.parse('stdout', line({ type: 'turn.failed', error: { message: 'quota exceeded' } }))).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'codex: quota exceeded' } },
      { type: 'result', data: { error: 'quota exceeded' } },
    ]);
    expect(agent.verdict).toEqual({ succeeded: false, message: 'quota exceeded' });
  });

  it('prices a model missing from the table at 0 and says so once', () => {
    const agent = parser('gpt-6.2-sol');
    const first = agent.parse('stdout', turnCompleted(10, 0, 1));
    expect(first[0]).toEqual({
      type: 'log',
      data: { stream: 'stderr', line: 'codex: model gpt-6.2-sol has no price (AGENT_PRICES_FILE); its cost counts as 0' },
    });
    expect(first[1]).toEqual({ type: 'usage', data: { input_tokens: 10, output_tokens: 1, cost_usd: 0, model: 'gpt-6.2-sol' } });
    expect(agent.parse('stdout', turnCompleted(20, 0, 2)).filter((message) => message.type === 'log')).toEqual([]);
  });

  it('keeps stderr, plain text and unknown events as log lines', () => {
    expect(parser().parse('stderr', 'Reading additional input from stdin...')).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'Reading additional input from stdin...' } },
    ]);
    expect(parser().parse('stdout', 'not json')).toEqual([{ type: 'log', data: { stream: 'stdout', line: 'not json' } }]);
    expect(parser().parse('stdout', '{"type":"future.event"}')).toEqual([
      { type: 'log', data: { stream: 'stdout', line: '{"type":"future.event"}' } },
    ]);
    expect(parser().parse('stdout', line({ type: 'thread.started', thread_id: 't' }))).toEqual([]);
  });

  it('never throws and emits only valid messages, for any line or a cut one', () => {
    const valid = fixtureLines('codex-write-file.jsonl');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          eventLike,
          fc.constantFrom(...valid).chain((text) => fc.nat(text.length).map((end) => text.slice(0, end))),
        ),
        (text) => {
          const agent = parser();
          expect(allValid([...agent.parse('stdout', text), ...agent.parse('stderr', text)])).toBe(true);
        },
      ),
    );
  });

  it('reports usages that sum to the last cumulative totals', () => {
    const step = fc.record({ input: fc.nat(1_000_000), cached: fc.nat(1_000_000), output: fc.nat(1_000_000) });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 20 }), (steps) => {
        const totals = { input: 0, cached: 0, output: 0 };
        const agent = parser();
        const messages = steps.flatMap(({ input, cached, output }) => {
          totals.input += input + cached;
          totals.cached += cached;
          totals.output += output;
          return agent.parse('stdout', turnCompleted(totals.input, totals.cached, totals.output));
        });
        const usages = ofType(messages, 'usage');
        expect(allValid(messages)).toBe(true);
        expect(usages.reduce((sum, usage) => sum + (usage.input_tokens ?? 0), 0)).toBe(totals.input);
        expect(usages.reduce((sum, usage) => sum + (usage.output_tokens ?? 0), 0)).toBe(totals.output);
        const expectedCost = ((totals.input - totals.cached) * 1 + totals.cached * 0.1 + totals.output * 10) / 1e6;
        expect(usages.reduce((sum, usage) => sum + (usage.cost_usd ?? 0), 0)).toBeCloseTo(expectedCost, 6);
      }),
    );
  });
});

describe('recorded codex runs (codex-cli 0.171 against a local Responses API)', () => {
  it('replays a run that wrote a file with a shell command', () => {
    const agent = codexAdapter.parser(DEFAULT_PRICES, { kind: 'codex' });
    const messages = parseAll(agent, fixtureLines('codex-write-file.jsonl'));
    expect(allValid(messages)).toBe(true);
    expect(ofType(messages, 'progress').map((data) => data.message)).toEqual([
      'Turn started',
      'Bash: /bin/bash -lc "printf \\"hello\\\\n\\" > hello.txt"',
    ]);
    expect(ofType(messages, 'usage')).toEqual([
      { input_tokens: 2000, output_tokens: 100, cost_usd: (1200 * 5 + 800 * 0.5 + 100 * 30) / 1e6, model: CODEX_DEFAULT_MODEL },
    ]);
    expect(ofType(messages, 'result')).toEqual([{ summary: 'Wrote hello.txt.' }]);
    expect(agent.verdict).toEqual({ succeeded: true });
  });

  it('replays a run whose command failed', () => {
    const agent = codexAdapter.parser(DEFAULT_PRICES, { kind: 'codex' });
    const messages = parseAll(agent, fixtureLines('codex-failing-command.jsonl'));
    expect(ofType(messages, 'log')).toContainEqual({
      stream: 'stderr',
      line: "Bash exited with 2: /bin/bash -lc 'cat hello.txt; ls missing-file'",
    });
    expect(agent.verdict).toEqual({ succeeded: true });
  });

  it('replays a run the model API refused', () => {
    const agent = codexAdapter.parser(DEFAULT_PRICES, { kind: 'codex' });
    const messages = parseAll(agent, fixtureLines('codex-turn-failed.jsonl'));
    const message = 'The model `gpt-5-codex` does not exist or you do not have access to it.';
    expect(ofType(messages, 'result')).toEqual([{ error: message }]);
    expect(ofType(messages, 'usage')).toEqual([]);
    expect(agent.verdict).toEqual({ succeeded: false, message });
  });
});
