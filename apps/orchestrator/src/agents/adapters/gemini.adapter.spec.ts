import fc from 'fast-check';
import { allValid, fixtureLines, ofType, parseAll } from './adapter-replay.behaviour';
import type { AgentOutputParser, LaunchInput } from './agent-adapter';
import { geminiAdapter } from './gemini.adapter';
import { DEFAULT_PRICES } from '../../config/agent-prices';

const PRICES = { 'gemini-2.5-pro': { input: 1, cached_input: 0.1, output: 10 } };

function parser(): AgentOutputParser {
  return geminiAdapter.parser(PRICES, { kind: 'gemini' });
}

function line(event: Record<string, unknown>): string {
  return JSON.stringify({ timestamp: '2026-12-07T17:48:36.743Z', ...event });
}

function stats(input: number, cached: number, output: number, total: number): Record<string, unknown> {
  const counts = { total_tokens: total, input_tokens: input, output_tokens: output, cached, input: input - cached };
  return { ...counts, duration_ms: 10, tool_calls: 0, models: { 'gemini-2.5-pro': counts } };
}

const EVENT_TYPES = ['init', 'message', 'tool_use', 'tool_result', 'error', 'result'];
/** Events of the right types with fields of any shape, numbers out of range included. */
const eventLike = fc
  .record({
    type: fc.constantFrom(...EVENT_TYPES),
    role: fc.constantFrom('user', 'assistant'),
    content: fc.anything(),
    tool_name: fc.anything(),
    tool_id: fc.anything(),
    parameters: fc.anything(),
    status: fc.constantFrom('success', 'error'),
    severity: fc.constantFrom('warning', 'error'),
    error: fc.anything(),
    model: fc.anything(),
    stats: fc.dictionary(
      fc.constantFrom('input_tokens', 'output_tokens', 'cached', 'total_tokens', 'models'),
      fc.oneof(
        fc.integer(),
        fc.double(),
        fc.dictionary(fc.string(), fc.dictionary(fc.constantFrom('input_tokens', 'output_tokens', 'cached', 'total_tokens'), fc.integer())),
      ),
    ),
  })
  .map((event) => JSON.stringify(event));

const launchInput: LaunchInput = {
  program: '/opt/gemini/bin/gemini',
  agent: { kind: 'gemini' },
  prompt: '-fix the tests',
  home: '/work/s1/home',
  credentials: { GEMINI_API_KEY: 'key' },
};

describe('geminiAdapter.launch', () => {
  it('runs gemini headless with stream-json, auto-approval, a trusted workspace and the prompt as one argument', () => {
    const launch = geminiAdapter.launch(launchInput);
    expect(launch.argv).toEqual([
      '/opt/gemini/bin/gemini',
      '--output-format',
      'stream-json',
      '--approval-mode',
      'yolo',
      '--skip-trust',
      '--prompt=-fix the tests',
    ]);
    expect(launch.env).toEqual({ GEMINI_API_KEY: 'key', HOME: '/work/s1/home' });
    expect(JSON.parse(launch.files?.['.gemini/settings.json'] ?? '')).toEqual({
      security: { auth: { selectedType: 'gemini-api-key' } },
      privacy: { usageStatisticsEnabled: false },
    });
  });

  it('passes the model, and max_turns as the session turn limit of its settings', () => {
    const launch = geminiAdapter.launch({ ...launchInput, agent: { kind: 'gemini', model: 'gemini-2.5-flash', max_turns: 7 } });
    expect(launch.argv.slice(6, 8)).toEqual(['--model', 'gemini-2.5-flash']);
    expect(JSON.parse(launch.files?.['.gemini/settings.json'] ?? '').model).toEqual({ maxSessionTurns: 7 });
  });
});

describe('gemini output parser', () => {
  it('reports tool uses as progress: Write, Edit, Read, Bash and others by name', () => {
    const agent = parser();
    const use = (tool_name: string, parameters: unknown) =>
      agent.parse('stdout', line({ type: 'tool_use', tool_name, tool_id: tool_name, parameters }));
    expect(use('write_file', { file_path: 'src/a.ts', content: 'x' })).toEqual([{ type: 'progress', data: { message: 'Write src/a.ts' } }]);
    expect(use('replace', { file_path: 'src/b.ts', old_string: 'a', new_string: 'b' })).toEqual([
      { type: 'progress', data: { message: 'Edit src/b.ts' } },
    ]);
    expect(use('read_file', { file_path: 'README.md' })).toEqual([{ type: 'progress', data: { message: 'Read README.md' } }]);
    expect(use('run_shell_command', { command: 'npm test' })).toEqual([{ type: 'progress', data: { message: 'Bash: npm test' } }]);
    expect(use('glob', { pattern: '**/*.ts' })).toEqual([{ type: 'progress', data: { message: 'glob {"pattern":"**/*.ts"}' } }]);
  });

  it('names a failed or refused tool on stderr', () => {
    const agent = parser();
    agent.parse('stdout', line({ type: 'tool_use', tool_name: 'run_shell_command', tool_id: 't1', parameters: { command: 'rm -rf /' } }));
    expect(
      agent.parse(
        'stdout',
        line({ type: 'tool_result', tool_id: 't1', status: 'error', error: { type: 'permission', message: 'denied' } }),
      ),
    ).toEqual([{ type: 'log', data: { stream: 'stderr', line: 'run_shell_command failed: denied' } }]);
    expect(agent.parse('stdout', line({ type: 'tool_result', tool_id: 't2', status: 'success', output: 'ok' }))).toEqual([]);
  });

  it('logs assistant text line by line as its fragments arrive, and ignores the echoed prompt', () => {
    const agent = parser();
    expect(agent.parse('stdout', line({ type: 'message', role: 'user', content: 'the prompt' }))).toEqual([]);
    expect(agent.parse('stdout', line({ type: 'message', role: 'assistant', content: 'Hello ', delta: true }))).toEqual([]);
    expect(agent.parse('stdout', line({ type: 'message', role: 'assistant', content: 'world.\nNext', delta: true }))).toEqual([
      { type: 'log', data: { stream: 'stdout', line: 'Hello world.' } },
    ]);
    expect(agent.parse('stdout', line({ type: 'tool_use', tool_name: 'read_file', tool_id: 't', parameters: { file_path: 'a' } }))).toEqual(
      [
        { type: 'log', data: { stream: 'stdout', line: 'Next' } },
        { type: 'progress', data: { message: 'Read a' } },
      ],
    );
  });

  it('logs warnings and errors on stderr', () => {
    expect(parser().parse('stdout', line({ type: 'error', severity: 'warning', message: 'Loop detected, stopping execution' }))).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'gemini: Loop detected, stopping execution' } },
    ]);
  });

  it('on a successful result reports usage per model, the reply after the last tool use, and success', () => {
    const agent = parser();
    agent.parse('stdout', line({ type: 'init', session_id: 's', model: 'gemini-2.5-pro' }));
    agent.parse('stdout', line({ type: 'message', role: 'assistant', content: 'Looking.', delta: true }));
    agent.parse('stdout', line({ type: 'tool_use', tool_name: 'read_file', tool_id: 't', parameters: { file_path: 'a' } }));
    agent.parse('stdout', line({ type: 'message', role: 'assistant', content: 'All done.', delta: true }));
    expect(agent.parse('stdout', line({ type: 'result', status: 'success', stats: stats(3000, 1200, 150, 3180) }))).toEqual([
      { type: 'log', data: { stream: 'stdout', line: 'All done.' } },
      {
        type: 'usage',
        data: { input_tokens: 3000, output_tokens: 150, cost_usd: (1800 * 1 + 1200 * 0.1 + 180 * 10) / 1e6, model: 'gemini-2.5-pro' },
      },
      { type: 'result', data: { summary: 'All done.' } },
    ]);
    expect(agent.verdict).toEqual({ succeeded: true });
  });

  it('reports one usage per model, whose sums equal the totals', () => {
    const counts = (input: number, output: number) => ({
      input_tokens: input,
      output_tokens: output,
      cached: 0,
      total_tokens: input + output,
    });
    const messages = parser().parse(
      'stdout',
      line({
        type: 'result',
        status: 'success',
        stats: { ...counts(300, 30), models: { 'gemini-2.5-pro': counts(100, 10), 'gemini-2.5-flash': counts(200, 20) } },
      }),
    );
    expect(ofType(messages, 'usage').map(({ model, input_tokens, output_tokens }) => ({ model, input_tokens, output_tokens }))).toEqual([
      { model: 'gemini-2.5-pro', input_tokens: 100, output_tokens: 10 },
      { model: 'gemini-2.5-flash', input_tokens: 200, output_tokens: 20 },
    ]);
    expect(allValid(messages)).toBe(true);
  });

  it('fails with the error of the result, or of the last error event when the result has none', () => {
    const withError = parser();
    withError.parse(
      'stdout',
      line({ type: 'result', status: 'error', error: { type: 'FatalTurnLimitedError', message: 'Reached max session turns' } }),
    );
    expect(withError.verdict).toEqual({ succeeded: false, message: 'Reached max session turns' });

    const withoutError = parser();
    withoutError.parse('stdout', line({ type: 'error', severity: 'error', message: 'The model returned an empty response.' }));
    expect(withoutError.parse('stdout', line({ type: 'result', status: 'error', stats: stats(0, 0, 0, 0) }))).toEqual([
      { type: 'result', data: { error: 'The model returned an empty response.' } },
    ]);
    expect(withoutError.verdict).toEqual({ succeeded: false, message: 'The model returned an empty response.' });
  });

  it('keeps stderr, plain text and unknown events as log lines', () => {
    expect(parser().parse('stderr', 'YOLO mode is enabled.')).toEqual([
      { type: 'log', data: { stream: 'stderr', line: 'YOLO mode is enabled.' } },
    ]);
    expect(parser().parse('stdout', '{"type":"later"}')).toEqual([{ type: 'log', data: { stream: 'stdout', line: '{"type":"later"}' } }]);
  });

  it('never throws and emits only valid messages, for any line or a cut one', () => {
    const valid = fixtureLines('gemini-write-and-shell.jsonl');
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.json(),
            eventLike,
            fc.constantFrom(...valid).chain((text) => fc.nat(text.length).map((end) => text.slice(0, end))),
          ),
        ),
        (lines) => {
          const agent = parser();
          expect(allValid([...parseAll(agent, lines), ...lines.flatMap((text) => agent.parse('stderr', text))])).toBe(true);
        },
      ),
    );
  });
});

describe('recorded gemini runs (gemini-cli 0.61 against a local Gemini API)', () => {
  it('replays a run that wrote a file and ran a command', () => {
    const agent = geminiAdapter.parser(DEFAULT_PRICES, { kind: 'gemini' });
    const messages = parseAll(agent, fixtureLines('gemini-write-and-shell.jsonl'));
    expect(allValid(messages)).toBe(true);
    expect(ofType(messages, 'progress').map((data) => data.message)).toEqual(['Write hello.txt', 'Bash: cat hello.txt && ls missing-file']);
    expect(ofType(messages, 'log')).toEqual([
      { stream: 'stdout', line: 'Wrote hello.txt; missing-file is absent.' },
      { stream: 'stdout', line: 'All done.' },
    ]);
    expect(ofType(messages, 'usage')).toEqual([
      { input_tokens: 3000, output_tokens: 150, cost_usd: (1800 * 1.25 + 1200 * 0.125 + 180 * 10) / 1e6, model: 'gemini-2.5-pro' },
    ]);
    expect(ofType(messages, 'result')).toEqual([{ summary: 'Wrote hello.txt; missing-file is absent.\nAll done.' }]);
    expect(agent.verdict).toEqual({ succeeded: true });
  });

  it('replays a run on the model `auto`, priced per model the CLI routed to', () => {
    const agent = geminiAdapter.parser(DEFAULT_PRICES, { kind: 'gemini' });
    const messages = parseAll(agent, fixtureLines('gemini-auto-model.jsonl'));
    expect(allValid(messages)).toBe(true);
    expect(ofType(messages, 'usage')).toEqual([
      { input_tokens: 1000, output_tokens: 50, cost_usd: 0, model: 'gemini-3.5-flash-lite' },
      { input_tokens: 1000, output_tokens: 50, cost_usd: (600 * 1.25 + 400 * 0.125 + 60 * 10) / 1e6, model: 'gemini-2.5-pro' },
    ]);
    expect(ofType(messages, 'log')).toContainEqual({
      stream: 'stderr',
      line: 'gemini: model gemini-3.5-flash-lite has no price (AGENT_PRICES_FILE); its cost counts as 0',
    });
  });

  it('replays a run the model API refused', () => {
    const agent = geminiAdapter.parser(DEFAULT_PRICES, { kind: 'gemini' });
    const messages = parseAll(agent, fixtureLines('gemini-api-error.jsonl'));
    expect(ofType(messages, 'usage')).toEqual([]);
    expect(agent.verdict?.succeeded).toBe(false);
    expect(agent.verdict?.message).toContain('API key not valid. Please pass a valid API key.');
  });
});
