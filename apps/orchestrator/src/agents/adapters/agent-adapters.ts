import { isAbsolute } from 'node:path';
import which from 'which';
import type { AgentKind, AgentSettings } from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';
import { OrchestratorConfig } from '../../config/orchestrator-config';
import type { AgentAdapter, AgentLaunch, AgentOutputParser, PriceTable } from './agent-adapter';
import { claudeCodeAdapter } from './claude-code.adapter';
import { codexAdapter } from './codex.adapter';
import { commandAdapter } from './command.adapter';
import { geminiAdapter } from './gemini.adapter';

/** A task's agent, ready to start: its adapter and the program it runs. */
export interface ResolvedAgent {
  readonly adapter: AgentAdapter;
  readonly program: string;
}

/**
 * The agent kinds this orchestrator runs (contract 7.1): finds each one's program, and gives it the
 * credentials its adapter names, and no others. Made in AppModule, with the adapters and prices it runs.
 */
export class AgentAdapters {
  private readonly byKind: ReadonlyMap<AgentKind, AgentAdapter>;

  constructor(
    private readonly config: OrchestratorConfig,
    adapters: readonly AgentAdapter[],
    private readonly prices: PriceTable,
  ) {
    this.byKind = new Map(adapters.map((adapter) => [adapter.kind, adapter]));
  }

  /** The adapter and program of `agent`; a kind this node cannot run is the task's fault: `agent_unavailable` (400). */
  resolve(agent: AgentSettings): ResolvedAgent {
    const adapter = this.byKind.get(agent.kind);
    if (adapter === undefined) throw new AppError('agent_unavailable', `agent.kind: this orchestrator does not run ${agent.kind} agents`);
    if (agent.kind === 'command') return { adapter, program: this.config.agentCommand };
    const configured = this.config.agentPrograms[agent.kind];
    const program = this.findProgram(configured);
    if (program === undefined) {
      const variable = adapter.programVariable ?? 'its program variable';
      throw new AppError(
        'agent_unavailable',
        `agent.kind: the ${agent.kind} agent's program ${JSON.stringify(configured)} is not installed on this orchestrator (${variable})`,
      );
    }
    return { adapter, program };
  }

  /** How to start it: its credentials filtered to those its adapter names. */
  launch(resolved: ResolvedAgent, input: { agent: AgentSettings; prompt: string; home: string }): AgentLaunch {
    const credentials = Object.fromEntries(
      resolved.adapter.credentialVariables.flatMap((name) => {
        const value = this.config.agentCredentials[name];
        return value === undefined ? [] : [[name, value]];
      }),
    );
    return resolved.adapter.launch({ ...input, program: resolved.program, credentials });
  }

  /** How to read `agent`'s lines; for one already running (adopted after a restart) its program need not be found again. */
  parser(agent: AgentSettings): AgentOutputParser {
    return (this.byKind.get(agent.kind) ?? commandAdapter).parser(this.prices, agent);
  }

  /** An executable on the agents' PATH, or at the path given. */
  private findProgram(program: string): string | undefined {
    const path = isAbsolute(program) ? undefined : this.config.agentEnv.PATH;
    return which.sync(program, { nothrow: true, ...(path === undefined ? {} : { path }) }) ?? undefined;
  }
}

/** Every agent kind's adapter. */
export const AGENT_ADAPTERS: readonly AgentAdapter[] = [commandAdapter, claudeCodeAdapter, codexAdapter, geminiAdapter];
