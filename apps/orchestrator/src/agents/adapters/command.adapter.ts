import { parseAgentLine } from '../agent-output';
import type { AgentAdapter, AgentLaunch, AgentOutputParser, LaunchInput } from './agent-adapter';

/**
 * The `command` agent: AGENT_COMMAND, speaking the contract's own JSON lines (sample-agent.ts). It
 * has no verdict of its own: its exit code says how it went. It is given no model credentials.
 */
export const commandAdapter: AgentAdapter = {
  kind: 'command',
  credentialVariables: [],
  launch({ program }: LaunchInput): AgentLaunch {
    // `program` is AGENT_COMMAND, a shell command line.
    return { argv: ['/bin/sh', '-c', program], env: {} };
  },
  parser(): AgentOutputParser {
    return { parse: (stream, line) => [parseAgentLine(stream, line)], verdict: undefined };
  },
};
