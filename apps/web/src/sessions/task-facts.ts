import type { Task } from '@mosaic/orchestrator-contract';

/** The contract's default kind, written out: its constant's module would bring zod into the page's bundle. */
const COMMAND_AGENT = 'command';

/** The agent that serves the task: its kind and model; a task without one has the orchestrator's command agent. */
export function describeAgent(agent: Task['agent'] | undefined): string {
  if (agent === null || agent === undefined) return COMMAND_AGENT;
  return agent.model === undefined ? agent.kind : `${agent.kind} · ${agent.model}`;
}

export function describeRepository(repository: Task['repository'] | undefined): string {
  if (repository === null || repository === undefined) return 'none (an empty workspace)';
  return `${repository.url} @ ${repository.ref ?? 'its default branch'}`;
}
