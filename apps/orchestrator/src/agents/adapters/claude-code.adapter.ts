import { AGENT_CREDENTIALS } from '../../config/agent-credentials';
import type { AgentAdapter, AgentLaunch, AgentOutputParser, LaunchInput, PriceTable } from './agent-adapter';
import { ClaudeCodeParser } from './claude-code.parser';

/**
 * Claude Code (`claude -p`), printing stream-json. `acceptEdits` lets it edit
 * files inside its workspace only; Bash needs its own allowance, since that mode
 * refuses commands such as `npm test` or `git init`, and `bypassPermissions`
 * would also lift the workspace bound on edits (and refuses to run as root).
 */
export class ClaudeCodeAdapter implements AgentAdapter {
  readonly kind = 'claude-code';
  readonly programVariable = 'CLAUDE_CODE_PATH';
  readonly defaultProgram = 'claude';
  readonly credentialVariables: readonly string[] = AGENT_CREDENTIALS['claude-code'];

  launch({ program, agent, prompt, home, credentials }: LaunchInput): AgentLaunch {
    const argv = [
      program,
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--permission-mode',
      'acceptEdits',
      '--allowedTools',
      'Bash',
      ...(agent.model === undefined ? [] : ['--model', agent.model]),
      ...(agent.max_turns === undefined ? [] : ['--max-turns', String(agent.max_turns)]),
      // The prompt last, after `--`: a task's text that starts with `-` is not read as an option.
      '--',
      prompt,
    ];
    const given = Object.entries(credentials).filter(([name]) => this.credentialVariables.includes(name));
    return {
      argv,
      env: {
        ...Object.fromEntries(given),
        HOME: home,
        // No update checks, telemetry or error reports: it runs offline and unattended.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
      },
    };
  }

  /** Claude Code reports its own cost: the price table is not needed. */
  parser(_prices: PriceTable): AgentOutputParser {
    return new ClaudeCodeParser();
  }
}

export const claudeCodeAdapter: AgentAdapter = new ClaudeCodeAdapter();
