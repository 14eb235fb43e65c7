import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineSplitter, type AgentStream } from './agent-output';
import { killProcessGroup, killProcessGroupAndWait, signalProcessGroup, waitForProcessGroupToEnd } from './process-group';

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The agent exited after `terminate()` asked it to: its exit, whatever the code, answers that request. */
  terminated: boolean;
}

export interface AgentStartOptions {
  command: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
  /** Whom the agent runs as (AGENT_USER); unset: the orchestrator's own user. */
  user?: { readonly uid: number; readonly gid: number };
  onLine: (stream: AgentStream, line: string) => void;
}

/** How long output may keep arriving after the group is gone: only a process that escaped the group (setsid) can still hold a pipe. */
const STDIO_DRAIN_MS = 2_000;

/**
 * One agent: a shell running `command` as the leader of its own process group, so
 * that the agent and everything it starts can be killed with one signal. The agent's
 * exit ends the session: whatever it left running in its group is killed too, and
 * `finished` resolves only once the group is gone and its output fully read.
 */
export class AgentProcess {
  readonly finished: Promise<AgentExit>;
  /** When the grace of the first `terminate()` ends; later calls keep it, so every caller waits for the same end. */
  private graceEndsAt?: number;
  private graceTimer?: NodeJS.Timeout;
  /** Once the agent has exited its group id may be reused, so nothing is scheduled against it any more. */
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {
    this.finished = this.supervise();
  }

  /** Resolves once the process exists; rejects if it could not be created at all. */
  static async start(options: AgentStartOptions): Promise<AgentProcess> {
    const child = spawn(options.command, {
      shell: true,
      detached: true,
      cwd: options.cwd,
      env: options.env,
      // Node drops the supplementary groups too when it switches user.
      uid: options.user?.uid,
      gid: options.user?.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const splitter = new LineSplitter((line) => options.onLine(stream, line));
      child[stream]?.on('data', (chunk: Buffer) => splitter.push(chunk));
      child[stream]?.on('end', () => splitter.end());
    }
    await once(child, 'spawn');
    if (child.pid === undefined) throw new Error('the agent process has no pid');
    return new AgentProcess(child, child.pid);
  }

  /** SIGKILL to the whole group; resolves like `finished`, when every process is gone. */
  async kill(): Promise<AgentExit> {
    await killProcessGroupAndWait(this.pid);
    return this.finished;
  }

  /**
   * SIGTERM to the whole group, SIGKILL to whatever is still alive `graceMs` later;
   * resolves like `finished`. A `kill()` meanwhile does not wait for the grace.
   */
  terminate(graceMs: number): Promise<AgentExit> {
    if (this.graceEndsAt === undefined && !this.exited) {
      signalProcessGroup(this.pid, 'SIGTERM');
      this.graceEndsAt = Date.now() + graceMs;
      // Only for an agent that outlives the grace: its exit then lets `supervise` wait for the rest of the group.
      this.graceTimer = setTimeout(() => killProcessGroup(this.pid), graceMs);
    }
    return this.finished;
  }

  private async supervise(): Promise<AgentExit> {
    const closed = once(this.child, 'close');
    const [code, signal] = (await once(this.child, 'exit')) as [number | null, NodeJS.Signals | null];
    this.exited = true;
    clearTimeout(this.graceTimer);
    const graceEndsAt = this.graceEndsAt;
    // The agent's processes were promised the whole grace, not only the agent itself.
    if (graceEndsAt !== undefined && graceEndsAt > Date.now()) await waitForProcessGroupToEnd(this.pid, graceEndsAt - Date.now());
    await killProcessGroupAndWait(this.pid);
    const drained = await Promise.race([closed.then(() => true), sleep(STDIO_DRAIN_MS).then(() => false)]);
    if (!drained) {
      this.child.stdout?.destroy();
      this.child.stderr?.destroy();
    }
    return { code, signal, terminated: graceEndsAt !== undefined };
  }
}
