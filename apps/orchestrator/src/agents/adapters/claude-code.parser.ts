import { USAGE_LIMITS, type UsageData, jsonEncodedPrefix, toStorableText } from '@mosaic/orchestrator-contract';
import { type AgentMessage, type AgentStream, logMessage, progressMessage } from '../agent-output';
import type { AgentOutputParser, AgentVerdict } from './agent-adapter';

/** resultDataSchema's limit on `summary`, in UTF-16 units. */
const MAX_SUMMARY_CHARS = 16 * 1024;
/** A summary of escaped control characters (six bytes each) still leaves its callback well under the body limit. */
const MAX_SUMMARY_BYTES = 48 * 1024;
/** resultDataSchema's limit on `error`, which the verdict's message becomes. */
const MAX_ERROR_CHARS = 4096;

/** Far above any run's spend (a hundred reports' worth), low enough that its reports stay few. */
const MAX_RUN_TOKENS = 100 * USAGE_LIMITS.tokensPerReport;

/** The input field that names what a tool works on, for its progress line (`Write src/a.ts`). */
const MAIN_ARGUMENT: Readonly<Record<string, string>> = {
  Read: 'file_path',
  Write: 'file_path',
  Edit: 'file_path',
  MultiEdit: 'file_path',
  NotebookEdit: 'notebook_path',
  Glob: 'pattern',
  Grep: 'pattern',
  WebFetch: 'url',
  WebSearch: 'query',
  Task: 'description',
};

type Json = Readonly<Record<string, unknown>>;

/**
 * Reads Claude Code's `--output-format stream-json --verbose` lines. Its
 * `assistant` lines carry per-message usage that is partial (output tokens 1):
 * only the final `result` line's totals are reported.
 */
export class ClaudeCodeParser implements AgentOutputParser {
  private finalWord: AgentVerdict | undefined;
  /** Each tool use's description by its id, to name the one whose result is an error. */
  private readonly toolUses = new Map<string, string>();

  get verdict(): AgentVerdict | undefined {
    return this.finalWord;
  }

  parse(stream: AgentStream, line: string): AgentMessage[] {
    const event = stream === 'stdout' ? object(safeJsonParse(line)) : undefined;
    switch (event?.type) {
      case 'system':
        return this.system(event, line);
      case 'assistant':
        return this.assistant(event);
      case 'user':
        return this.user(event);
      case 'result':
        return this.result(event);
      default:
        return [logMessage(stream, line)];
    }
  }

  private system(event: Json, line: string): AgentMessage[] {
    if (event.subtype === 'init') {
      const tools = Array.isArray(event.tools) ? event.tools.length : 0;
      return [
        logMessage('stdout', `Claude Code started: model ${text(event.model) ?? '?'}, cwd ${text(event.cwd) ?? '?'}, ${tools} tools`),
      ];
    }
    if (event.subtype === 'api_retry') {
      const cause = [count(event.error_status), text(event.error)].filter((part) => part !== undefined).join(' ');
      return [
        logMessage(
          'stderr',
          `Model API retry ${count(event.attempt) ?? '?'}/${count(event.max_retries) ?? '?'} after ${cause || 'an error'}`,
        ),
      ];
    }
    // The failed tool result that follows names it, and the result line lists every denial.
    if (event.subtype === 'permission_denied') return [];
    return [logMessage('stdout', line)];
  }

  private assistant(event: Json): AgentMessage[] {
    // The program's own API error reports come as assistant text.
    const stream: AgentStream = event.error === undefined ? 'stdout' : 'stderr';
    return blocks(object(event.message)?.content).flatMap((block): AgentMessage[] => {
      if (block.type === 'text') return textLines(text(block.text) ?? '').map((textLine) => logMessage(stream, textLine));
      if (block.type !== 'tool_use') return [];
      const description = describeToolUse(block.name, block.input);
      const id = text(block.id);
      if (id !== undefined) this.toolUses.set(id, description);
      return [progressMessage(description)];
    });
  }

  private user(event: Json): AgentMessage[] {
    return blocks(object(event.message)?.content)
      .filter((block) => block.type === 'tool_result' && block.is_error === true)
      .map((block) => {
        const id = text(block.tool_use_id) ?? '?';
        return logMessage('stderr', `${this.toolUses.get(id) ?? `Tool use ${id}`} failed: ${resultText(block.content)}`);
      });
  }

  private result(event: Json): AgentMessage[] {
    const summary = text(event.result);
    const succeeded = event.subtype === 'success' && event.is_error !== true;
    const errors = Array.isArray(event.errors) ? event.errors.filter((error) => typeof error === 'string') : [];
    const message = summary || errors.join('; ') || text(event.subtype) || 'no result';
    const verdict = succeeded ? { succeeded } : { succeeded, message: cut(toStorableText(message), MAX_ERROR_CHARS) };
    this.finalWord = verdict;
    const denials = (Array.isArray(event.permission_denials) ? event.permission_denials : []).map((denial) => {
      const entry = object(denial);
      return logMessage('stderr', `Permission denied: ${describeToolUse(entry?.tool_name, entry?.tool_input)}`);
    });
    return [
      ...usageReports(event).map((data): AgentMessage => ({ type: 'usage', data })),
      // A failure's message goes in `error` too: the session's own error is the code agent_error (contract 7.1).
      {
        type: 'result',
        data: {
          ...(summary === undefined ? {} : { summary: resultSummary(summary) }),
          ...(verdict.message === undefined ? {} : { error: verdict.message }),
        },
      },
      ...denials,
    ];
  }
}

/** `Write src/a.ts`, `Bash: npm test`, or the tool's name alone. */
function describeToolUse(name: unknown, input: unknown): string {
  const tool = text(name) ?? 'unknown tool';
  const fields = object(input);
  if (tool === 'Bash') return `Bash: ${text(fields?.command) ?? ''}`;
  const argument = Object.hasOwn(MAIN_ARGUMENT, tool) ? text(fields?.[MAIN_ARGUMENT[tool]]) : undefined;
  return argument === undefined ? tool : `${tool} ${argument}`;
}

/**
 * The run's totals from the result line: input counts the cache's writes and
 * reads too, the model is `modelUsage`'s first. Totals above what one report
 * may count are spread over several, so that the sums still equal them.
 */
function usageReports(event: Json): UsageData[] {
  const usage = object(event.usage);
  const inputs = [usage?.input_tokens, usage?.cache_creation_input_tokens, usage?.cache_read_input_tokens].map(tokens);
  let input = inputs.every((value) => value === undefined) ? undefined : inputs.reduce((sum: number, value) => sum + (value ?? 0), 0);
  let output = tokens(usage?.output_tokens);
  const cost = event.total_cost_usd;
  const model = Object.keys(object(event.modelUsage) ?? {})[0];
  const reports: UsageData[] = [];
  do {
    const first = reports.length === 0;
    const report: UsageData = {
      ...(input === undefined ? {} : { input_tokens: Math.min(input, USAGE_LIMITS.tokensPerReport) }),
      ...(output === undefined ? {} : { output_tokens: Math.min(output, USAGE_LIMITS.tokensPerReport) }),
      ...(first && typeof cost === 'number' && cost >= 0 && cost <= USAGE_LIMITS.costUsdPerReport ? { cost_usd: cost } : {}),
      ...(first && model !== undefined && model.length <= 200 ? { model: toStorableText(model) } : {}),
    };
    if (report.input_tokens === undefined && report.output_tokens === undefined && report.cost_usd === undefined) break;
    reports.push(report);
    input = input === undefined ? undefined : input - (report.input_tokens ?? 0);
    output = output === undefined ? undefined : output - (report.output_tokens ?? 0);
  } while ((input ?? 0) > 0 || (output ?? 0) > 0);
  return reports;
}

function resultSummary(summary: string): string {
  return jsonEncodedPrefix(cut(toStorableText(summary), MAX_SUMMARY_CHARS), MAX_SUMMARY_BYTES).text;
}

/** A tool result's content: a string, or text blocks. */
function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  return blocks(content)
    .map((block) => text(block.text))
    .filter((part) => part !== undefined)
    .join('\n');
}

function textLines(value: string): string[] {
  return value.split('\n').filter((textLine) => textLine.trim() !== '');
}

/** At most `max` UTF-16 units, never half a surrogate pair. */
function cut(value: string, max: number): string {
  return value.length <= max ? value : value.slice(0, max).replace(/[\uD800-\uDBFF]$/, '');
}

function blocks(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(object).filter((block) => block !== undefined) : [];
}

function object(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function count(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : undefined;
}

/** A token count a run could have spent; a larger one is garbage, not spend. */
function tokens(value: unknown): number | undefined {
  const counted = count(value);
  return counted !== undefined && counted <= MAX_RUN_TOKENS ? counted : undefined;
}

function safeJsonParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
