import type { AgentKind, AgentSettings } from '@mosaic/orchestrator-contract';
import type { PriceTable } from '../../config/agent-prices';
import type { AgentMessage, AgentStream } from '../agent-output';

/** How the agent itself said its run went: a session ends `completed` only when it said it succeeded. */
export interface AgentVerdict {
  readonly succeeded: boolean;
  /** The agent's own message when it did not succeed. */
  readonly message?: string;
}

/**
 * Turns one agent's output lines into contract messages. One per session life: a
 * node that adopts the session after a restart starts a new one at the spool
 * position it resumes from. Never throws: a line it cannot read is a log line.
 */
export interface AgentOutputParser {
  parse(stream: AgentStream, line: string): AgentMessage[];
  /** The agent's final word, once it printed it. */
  readonly verdict: AgentVerdict | undefined;
}

export type { ModelPrice, PriceTable } from '../../config/agent-prices';

export interface LaunchInput {
  /** The program, as resolved when the spawn was accepted. */
  readonly program: string;
  readonly agent: AgentSettings;
  /** `agent.prompt`, or the task's title and description. */
  readonly prompt: string;
  /** A directory of the session's own, outside its workspace, for the agent's home and settings. */
  readonly home: string;
  /** The orchestrator's environment, for the credentials of this kind (and only this kind). */
  readonly credentials: Readonly<Record<string, string>>;
}

export interface AgentLaunch {
  /** The agent's program and its arguments; it runs in the session's workspace. */
  readonly argv: readonly string[];
  /** Variables for this kind of agent on top of the common ones: its credentials and settings. */
  readonly env: Readonly<Record<string, string>>;
  /** Files to write under `home` before the start (a settings file), by path relative to it. */
  readonly files?: Readonly<Record<string, string>>;
}

/** One kind of agent: how to start it and how to read what it prints. */
export interface AgentAdapter {
  readonly kind: AgentKind;
  /** The environment variable naming its program (`CLAUDE_CODE_PATH`, …); none for `command`. */
  readonly programVariable?: string;
  /** The program's default name, looked up on PATH. */
  readonly defaultProgram?: string;
  /** Names of the orchestrator's variables this kind of agent may be given (its model credentials). */
  readonly credentialVariables: readonly string[];
  launch(input: LaunchInput): AgentLaunch;
  /** `agent` as launched: an agent that does not print its model (codex) is priced by the one it was started with. */
  parser(prices: PriceTable, agent: AgentSettings): AgentOutputParser;
}
