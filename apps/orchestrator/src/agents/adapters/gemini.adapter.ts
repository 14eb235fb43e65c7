import { AGENT_CREDENTIALS } from '../../config/agent-credentials';
import type { UsageData } from '@mosaic/orchestrator-contract';
import { usageDataSchema } from '@mosaic/orchestrator-contract';
import { type AgentMessage, type AgentStream, logMessage, progressMessage } from '../agent-output';
import type { AgentAdapter, AgentLaunch, AgentOutputParser, AgentVerdict, LaunchInput, PriceTable } from './agent-adapter';
import { countField, isObject, jsonObject, resultMessage, stringField, textLogMessages } from './adapter-messages';
import { SessionPricer } from './price-table';

/**
 * Google's Gemini CLI, run headless with `--output-format stream-json`: JSON lines
 * of `init`, `message`, `tool_use`, `tool_result`, `error` and a final `result`
 * (packages/core/src/output/types.ts).
 */
export const geminiAdapter: AgentAdapter = {
  kind: 'gemini',
  programVariable: 'GEMINI_PATH',
  defaultProgram: 'gemini',
  // GOOGLE_API_KEY is the CLI's key for Vertex AI only; the adapter selects the Gemini API.
  credentialVariables: AGENT_CREDENTIALS.gemini,

  /*
   * `--approval-mode yolo` lets it edit and run commands without asking; the CLI
   * drops to asking (and so to refusing) in a folder it does not trust, which a
   * fresh workspace is: hence `--skip-trust`. `--prompt=` keeps a prompt that
   * starts with `-` from being read as an option; stdin is /dev/null, so nothing is
   * appended to it.
   */
  launch(input: LaunchInput): AgentLaunch {
    const model = input.agent.model;
    return {
      argv: [
        input.program,
        '--output-format',
        'stream-json',
        '--approval-mode',
        'yolo',
        '--skip-trust',
        ...(model === undefined ? [] : ['--model', model]),
        `--prompt=${input.prompt}`,
      ],
      env: { ...input.credentials, HOME: input.home },
      files: { '.gemini/settings.json': `${JSON.stringify(settings(input.agent.max_turns))}\n` },
    };
  },

  parser(prices: PriceTable): AgentOutputParser {
    return new GeminiParser(new SessionPricer(prices, 'gemini'));
  },
};

/**
 * With GOOGLE_GEMINI_BASE_URL set the CLI would pick its `gateway` authentication,
 * which headless runs refuse ("Invalid auth method selected"): the API key's is named.
 * Its usage statistics would only knock on the sandbox's closed network.
 */
function settings(maxTurns: number | undefined): Record<string, unknown> {
  return {
    security: { auth: { selectedType: 'gemini-api-key' } },
    privacy: { usageStatisticsEnabled: false },
    ...(maxTurns === undefined ? {} : { model: { maxSessionTurns: maxTurns } }),
  };
}

class GeminiParser implements AgentOutputParser {
  verdict: AgentVerdict | undefined;
  private model: string | undefined;
  /** The model's text since its last tool use: its final reply once the run ends. */
  private reply = '';
  /** The text after the reply's last newline, logged once its line is complete. */
  private pendingLine = '';
  private lastError: string | undefined;
  private readonly toolNames = new Map<string, string>();

  constructor(private readonly pricer: SessionPricer) {}

  parse(stream: AgentStream, line: string): AgentMessage[] {
    const event = stream === 'stdout' ? jsonObject(line) : undefined;
    if (event === undefined) return [logMessage(stream, line)];
    switch (event.type) {
      case 'init':
        this.model = stringField(event, 'model');
        return [];
      case 'message':
        return event.role === 'assistant' ? this.text(stringField(event, 'content') ?? '') : [];
      case 'tool_use':
        return [...this.flush(), ...this.toolUse(event)];
      case 'tool_result':
        return this.toolResult(event);
      case 'error': {
        const message = stringField(event, 'message') ?? 'gemini reported an error';
        if (event.severity === 'error') this.lastError = message;
        return [logMessage('stderr', `gemini: ${message}`)];
      }
      case 'result':
        return [...this.flush(), ...this.result(event)];
      default:
        return [logMessage(stream, line)];
    }
  }

  /** Assistant messages arrive as fragments: each complete line is logged as it forms. */
  private text(fragment: string): AgentMessage[] {
    this.reply += fragment;
    const lines = (this.pendingLine + fragment).split('\n');
    this.pendingLine = lines.pop() ?? '';
    return textLogMessages('stdout', lines.join('\n'));
  }

  private flush(): AgentMessage[] {
    const rest = this.pendingLine;
    this.pendingLine = '';
    return textLogMessages('stdout', rest);
  }

  private toolUse(event: Record<string, unknown>): AgentMessage[] {
    this.reply = '';
    const name = stringField(event, 'tool_name') ?? 'tool';
    const id = stringField(event, 'tool_id');
    if (id !== undefined) this.toolNames.set(id, name);
    return [progressMessage(toolLabel(name, isObject(event.parameters) ? event.parameters : {}))];
  }

  private toolResult(event: Record<string, unknown>): AgentMessage[] {
    if (event.status !== 'error') return [];
    const name = this.toolNames.get(stringField(event, 'tool_id') ?? '') ?? 'A tool';
    return [logMessage('stderr', `${name} failed: ${stringField(event.error, 'message') ?? 'error'}`)];
  }

  private result(event: Record<string, unknown>): AgentMessage[] {
    const usage = this.usage(event.stats);
    if (event.status === 'success') {
      this.verdict = { succeeded: true };
      return [...usage, resultMessage(this.reply === '' ? {} : { summary: this.reply })];
    }
    const message = stringField(event.error, 'message') ?? this.lastError ?? 'gemini reported an error';
    this.verdict = { succeeded: false, message };
    return [...usage, resultMessage({ error: message })];
  }

  /**
   * The run's totals, once, one usage message per model it used. `input_tokens`
   * includes the cached ones; thinking tokens, billed as output, are counted only
   * in `total_tokens`, so the cost prices everything past the input as output.
   */
  private usage(stats: unknown): AgentMessage[] {
    const models = isObject(stats) && isObject(stats.models) ? Object.entries(stats.models) : [];
    const perModel: [string | undefined, unknown][] = models.length > 0 ? models : [[this.model, stats]];
    return perModel.flatMap(([model, counts]) => this.modelUsage(model, counts));
  }

  private modelUsage(model: string | undefined, counts: unknown): AgentMessage[] {
    const input = countField(counts, 'input_tokens');
    const output = countField(counts, 'output_tokens');
    if (input === 0 && output === 0) return [];
    const cached = Math.min(input, countField(counts, 'cached'));
    const billedOutput = Math.max(output, countField(counts, 'total_tokens') - input);
    const { costUsd, notices } = this.pricer.cost(model, { input: input - cached, cachedInput: cached, output: billedOutput });
    const data: UsageData = { input_tokens: input, output_tokens: output, cost_usd: costUsd, ...(model === undefined ? {} : { model }) };
    if (!usageDataSchema.safeParse(data).success)
      return [...notices, logMessage('stderr', `gemini: usage out of range: ${JSON.stringify(counts)}`)];
    return [...notices, { type: 'usage', data }];
  }
}

function toolLabel(name: string, parameters: Record<string, unknown>): string {
  const path = stringField(parameters, 'file_path') ?? '';
  switch (name) {
    case 'write_file':
      return `Write ${path}`;
    case 'replace':
      return `Edit ${path}`;
    case 'read_file':
      return `Read ${path}`;
    case 'run_shell_command':
      return `Bash: ${stringField(parameters, 'command') ?? ''}`;
    default:
      return `${name} ${JSON.stringify(parameters)}`;
  }
}
