import { AGENT_CREDENTIALS } from '../../config/agent-credentials';
import type { AgentSettings, UsageData } from '@mosaic/orchestrator-contract';
import { usageDataSchema } from '@mosaic/orchestrator-contract';
import { type AgentMessage, type AgentStream, logMessage, progressMessage } from '../agent-output';
import type { AgentAdapter, AgentLaunch, AgentOutputParser, AgentVerdict, LaunchInput, PriceTable } from './agent-adapter';
import { countField, isObject, jsonObject, resultMessage, stringField, textLogMessages } from './adapter-messages';
import { SessionPricer } from './price-table';

/**
 * Codex's built-in default model changes between releases and `--json` never
 * prints the model, so the adapter names one that codex 0.171 knows and the
 * price table prices.
 */
export const CODEX_DEFAULT_MODEL = 'gpt-5.5';

const FILE_CHANGE_VERBS = new Map([
  ['add', 'Write'],
  ['update', 'Edit'],
  ['delete', 'Delete'],
]);

/**
 * OpenAI's Codex CLI, run as `codex exec --json`: one turn per run, JSON lines
 * of thread events on stdout (codex-rs/exec/src/exec_events.rs).
 */
export const codexAdapter: AgentAdapter = {
  kind: 'codex',
  programVariable: 'CODEX_PATH',
  defaultProgram: 'codex',
  credentialVariables: AGENT_CREDENTIALS.codex,

  /*
   * The orchestrator's sandbox (AGENT_SANDBOX) is the one the agent runs in: codex's
   * own would nest a second bubblewrap inside it, which fails there, and would ask
   * for approvals nobody can give. Its stdin is /dev/null (the supervisor's), so
   * codex appends no `<stdin>` block and never waits for input. It has no turn limit:
   * `max_turns` is not passed on.
   */
  launch(input: LaunchInput): AgentLaunch {
    const argv = [
      input.program,
      'exec',
      '--json',
      '--skip-git-repo-check',
      '--dangerously-bypass-approvals-and-sandbox',
      '--model',
      input.agent.model ?? CODEX_DEFAULT_MODEL,
      '--',
      input.prompt,
    ];
    const env = { ...input.credentials, CODEX_HOME: input.home, HOME: input.home };
    const baseUrl = input.credentials.OPENAI_BASE_URL;
    if (baseUrl === undefined) return { argv, env };
    return { argv, env, files: { 'config.toml': providerConfig(baseUrl, input.credentials.OPENAI_API_KEY === undefined) } };
  },

  parser(prices: PriceTable, agent: AgentSettings): AgentOutputParser {
    return new CodexParser(new SessionPricer(prices, 'codex'), agent.model ?? CODEX_DEFAULT_MODEL);
  },
};

/** Codex ignores OPENAI_BASE_URL: another endpoint has to be a model provider of its configuration. */
function providerConfig(baseUrl: string, codexKeyOnly: boolean): string {
  return [
    'model_provider = "mosaic"',
    '',
    '[model_providers.mosaic]',
    'name = "mosaic"',
    // JSON's string escapes are TOML's basic-string escapes.
    `base_url = ${JSON.stringify(baseUrl)}`,
    `env_key = "${codexKeyOnly ? 'CODEX_API_KEY' : 'OPENAI_API_KEY'}"`,
    'wire_api = "responses"',
    '',
  ].join('\n');
}

interface Totals {
  input: number;
  cached: number;
  output: number;
}

class CodexParser implements AgentOutputParser {
  verdict: AgentVerdict | undefined;
  private lastText: string | undefined;
  private totals: Totals = { input: 0, cached: 0, output: 0 };
  /** Items already announced by their `item.started`, so that their completion is not announced again. */
  private readonly announced = new Set<string>();

  constructor(
    private readonly pricer: SessionPricer,
    private readonly model: string,
  ) {}

  parse(stream: AgentStream, line: string): AgentMessage[] {
    const event = stream === 'stdout' ? jsonObject(line) : undefined;
    if (event === undefined) return [logMessage(stream, line)];
    switch (event.type) {
      case 'turn.started':
        return [progressMessage('Turn started')];
      case 'item.started':
      case 'item.updated':
        return this.itemStarted(event.item);
      case 'item.completed':
        return this.itemCompleted(event.item);
      case 'turn.completed':
        return this.turnCompleted(event.usage);
      case 'turn.failed':
        return this.failed(stringField(event.error, 'message') ?? 'codex: the turn failed');
      case 'error': {
        // Also sent for retries ("Reconnecting..."): failed only if no turn completes after it.
        const message = stringField(event, 'message') ?? 'codex reported an error';
        this.verdict = { succeeded: false, message };
        return [logMessage('stderr', `codex: ${message}`)];
      }
      case 'thread.started':
        return [];
      default:
        return [logMessage(stream, line)];
    }
  }

  private itemStarted(item: unknown): AgentMessage[] {
    const id = stringField(item, 'id');
    const announcement = announce(item);
    if (announcement === undefined) return [];
    if (id !== undefined && stringField(item, 'type') !== 'todo_list') {
      if (this.announced.has(id)) return [];
      this.announced.add(id);
    }
    return [announcement];
  }

  private itemCompleted(item: unknown): AgentMessage[] {
    if (!isObject(item)) return [];
    const id = stringField(item, 'id');
    const seen = id !== undefined && this.announced.delete(id);
    const announcement = seen ? undefined : announce(item);
    const messages = announcement === undefined ? [] : [announcement];
    switch (stringField(item, 'type')) {
      case 'agent_message': {
        const text = stringField(item, 'text') ?? '';
        this.lastText = text;
        return textLogMessages('stdout', text);
      }
      case 'command_execution':
        return [...messages, ...commandOutcome(item)];
      case 'file_change':
        return fileChanges(item);
      case 'mcp_tool_call': {
        const error = stringField(item.error, 'message');
        return error === undefined ? messages : [...messages, logMessage('stderr', `MCP ${toolName(item)} failed: ${error}`)];
      }
      case 'error':
        return [logMessage('stderr', `codex: ${stringField(item, 'message') ?? ''}`)];
      case 'todo_list':
        return [];
      default:
        // Reasoning summaries are the model's notes to itself, not the agent's reply: the log keeps only the latter.
        return messages;
    }
  }

  private turnCompleted(usage: unknown): AgentMessage[] {
    this.verdict = { succeeded: true };
    return [...this.usageSince(usage), resultMessage(this.lastText === undefined ? {} : { summary: this.lastText })];
  }

  private failed(message: string): AgentMessage[] {
    this.verdict = { succeeded: false, message };
    return [logMessage('stderr', `codex: ${message}`), resultMessage({ error: message })];
  }

  /** Codex reports the thread's running totals; a usage message carries what was spent since the last one. */
  private usageSince(usage: unknown): AgentMessage[] {
    const totals = {
      input: countField(usage, 'input_tokens'),
      cached: countField(usage, 'cached_input_tokens'),
      output: countField(usage, 'output_tokens'),
    };
    const input = Math.max(0, totals.input - this.totals.input);
    const cached = Math.min(input, Math.max(0, totals.cached - this.totals.cached));
    const output = Math.max(0, totals.output - this.totals.output);
    this.totals = totals;
    const { costUsd, notices } = this.pricer.cost(this.model, { input: input - cached, cachedInput: cached, output });
    const data: UsageData = { input_tokens: input, output_tokens: output, cost_usd: costUsd, model: this.model };
    if (!usageDataSchema.safeParse(data).success)
      return [...notices, logMessage('stderr', `codex: usage out of range: ${JSON.stringify(usage)}`)];
    return [...notices, { type: 'usage', data }];
  }
}

/** The progress line for an item, or undefined for items that are not tool uses. */
function announce(item: unknown): AgentMessage | undefined {
  if (!isObject(item)) return undefined;
  switch (item.type) {
    case 'command_execution':
      return progressMessage(`Bash: ${stringField(item, 'command') ?? ''}`);
    case 'mcp_tool_call':
      return progressMessage(`MCP ${toolName(item)}`);
    case 'web_search':
      return progressMessage(`Web search: ${stringField(item, 'query') ?? ''}`);
    case 'todo_list': {
      const items = Array.isArray(item.items) ? item.items : [];
      const done = items.filter((entry) => isObject(entry) && entry.completed === true).length;
      return progressMessage(`Todo list: ${done}/${items.length} done`);
    }
    default:
      return undefined;
  }
}

function commandOutcome(item: Record<string, unknown>): AgentMessage[] {
  const command = stringField(item, 'command') ?? '';
  if (item.status === 'declined') return [logMessage('stderr', `Bash not permitted: ${command}`)];
  const exitCode = item.exit_code;
  return typeof exitCode === 'number' && exitCode !== 0 ? [logMessage('stderr', `Bash exited with ${exitCode}: ${command}`)] : [];
}

function fileChanges(item: Record<string, unknown>): AgentMessage[] {
  const changes = Array.isArray(item.changes) ? item.changes : [];
  const messages = changes.map((change) =>
    progressMessage(`${FILE_CHANGE_VERBS.get(stringField(change, 'kind') ?? '') ?? 'Edit'} ${stringField(change, 'path') ?? ''}`),
  );
  if (item.status === 'failed')
    messages.push(logMessage('stderr', `File change failed: ${changes.map((change) => stringField(change, 'path')).join(', ')}`));
  return messages;
}

function toolName(item: Record<string, unknown>): string {
  return `${stringField(item, 'server') ?? ''}.${stringField(item, 'tool') ?? ''}`;
}
