import type { Logger } from '@nestjs/common';
import type { SessionStatus, TerminalStatus } from '@mosaic/orchestrator-contract';
import type { CallbackDelivery } from '../callbacks/callback-delivery';
import type { SessionEventLog } from '../callbacks/session-event-log';
import type { LogLineDropReason, OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import { parseAgentLine, type AgentMessage, type AgentStream } from './agent-output';
import { AgentProcess, type AgentExit, type AgentStartOptions } from './agent-process';
import { OutputThrottle } from './output-throttle';

/** Why the orchestrator ended a session itself. */
export type EndReason = 'kill' | 'cancel' | 'timeout' | 'shutdown';

export interface SupervisorOptions {
  command: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
  user?: AgentStartOptions['user'];
  /** This node's id: the `running` event names it. */
  node: string;
  timeoutMs: number;
  logLinesPerSecond: number;
  delivery: Pick<CallbackDelivery, 'hasRoom'>;
  metrics: Pick<OrchestratorMetrics, 'logLineDropped'>;
  logger: Pick<Logger, 'warn' | 'error'>;
}

/** Where the supervisor's events go: numbered, stored and delivered in order (SessionEventLog). */
export type SessionEvents = Pick<SessionEventLog, 'emit' | 'end' | 'comingBytes'>;

interface Outcome {
  status: TerminalStatus;
  exitCode?: number;
  error?: string;
}

/**
 * Runs one session's agent and turns what happens to it into status changes and
 * callback events. Its OutputThrottle decides what of the agent's output goes out;
 * status changes always go out, the terminal one last.
 */
export class SessionSupervisor {
  private endReason?: EndReason;
  private readonly output: OutputThrottle;
  private warnedQueueFull = false;
  private agent?: AgentProcess;
  private events?: SessionEvents;
  private timer?: NodeJS.Timeout;
  private ended?: Promise<void>;
  private current: SessionStatus = 'pending';

  constructor(
    readonly sessionId: string,
    private readonly options: SupervisorOptions,
  ) {
    this.output = new OutputThrottle({
      linesPerSecond: options.logLinesPerSecond,
      hasRoom: () => options.delivery.hasRoom(sessionId, this.events?.comingBytes ?? 0),
      send: (message) => this.send(message),
      onLogLineDropped: (reason) => this.onLogLineDropped(reason),
    });
  }

  /** The status as this supervisor last set it. */
  get status(): SessionStatus {
    return this.current;
  }

  get pid(): number | undefined {
    return this.agent?.pid;
  }

  /**
   * Starts the agent; rejects, having produced no event, if it could not be started.
   * A session ended before its agent started (a kill that came during the claim)
   * ends at once, without an agent.
   */
  async start(events: SessionEvents): Promise<void> {
    this.events = events;
    if (this.endReason) {
      this.ended = this.finish(undefined);
      return;
    }
    const agent = await AgentProcess.start({
      command: this.options.command,
      cwd: this.options.cwd,
      env: this.options.env,
      user: this.options.user,
      onLine: (stream, line) => this.onLine(stream, line),
    });
    this.agent = agent;
    this.current = 'running';
    events.emit({ type: 'status', status: 'running', data: { node: this.options.node } });
    this.timer = setTimeout(() => void this.end('timeout'), this.options.timeoutMs);
    this.ended = this.finishWhenDone(agent);
    // A stop that came while the agent was being started.
    if (this.endReason) void this.stopAgent(agent, this.endReason);
  }

  /** Resolves once the session is terminal and its final status event is stored. */
  whenEnded(): Promise<void> {
    return this.ended ?? Promise.resolve();
  }

  /**
   * Ends the session and waits until it is terminal and its agent's whole tree is gone.
   * The first reason given decides the status; a kill during a cancel's grace does not
   * wait for the grace: it SIGKILLs at once (an operator who escalates means it).
   */
  async end(reason: EndReason, graceMs = 0): Promise<void> {
    this.endReason ??= reason;
    if (this.agent && this.current === 'running') await this.stopAgent(this.agent, reason, graceMs);
    return this.whenEnded();
  }

  private async stopAgent(agent: AgentProcess, reason: EndReason, graceMs = 0): Promise<void> {
    try {
      if (reason === 'cancel') await agent.terminate(graceMs);
      else await agent.kill();
    } catch (error) {
      this.options.logger.error(`session ${this.sessionId}: ${(error as Error).message}`);
    }
  }

  private onLine(stream: AgentStream, line: string): void {
    this.output.offer(parseAgentLine(stream, line));
  }

  private send(message: AgentMessage): void {
    if (message.type === 'log') this.events?.emit({ type: 'log', data: message.data });
    else this.events?.emit({ type: message.type, status: this.current, data: message.data });
  }

  private onLogLineDropped(reason: LogLineDropReason): void {
    this.options.metrics.logLineDropped(reason);
    if (reason !== 'queue_full' || this.warnedQueueFull) return;
    this.warnedQueueFull = true;
    this.options.logger.warn(
      `session ${this.sessionId}: its callbacks are not being delivered and fill their queue: log lines are dropped and counted, progress and result coalesced, until delivery resumes`,
    );
  }

  private async finishWhenDone(agent: AgentProcess): Promise<void> {
    let exit: AgentExit | undefined;
    try {
      exit = await agent.finished;
    } catch (error) {
      this.options.logger.error(`session ${this.sessionId}: ${(error as Error).message}`);
    }
    clearTimeout(this.timer);
    this.output.end();
    await this.finish(exit);
  }

  private async finish(exit: AgentExit | undefined): Promise<void> {
    const outcome = this.outcome(exit);
    this.current = outcome.status;
    await this.events?.end(outcome);
  }

  /**
   * An end we caused shows as a death by signal, or for a cancel as any exit after the
   * SIGTERM (the agent stopped because it was asked to); an agent that exited on its
   * own first keeps its own result.
   */
  private outcome(exit: AgentExit | undefined): Outcome {
    const caused = exit === undefined || exit.signal !== null || (this.endReason === 'cancel' && exit.terminated);
    if (this.endReason && caused) {
      switch (this.endReason) {
        case 'kill':
          return { status: 'killed' };
        case 'cancel':
          return { status: 'cancelled', ...(exit !== undefined && exit.code !== null && { exitCode: exit.code }) };
        case 'timeout':
          return { status: 'failed', error: `the session exceeded its time limit of ${this.options.timeoutMs} ms and was killed` };
        case 'shutdown':
          return { status: 'failed', error: 'the orchestrator shut down while the agent was running' };
      }
    }
    if (exit === undefined) return { status: 'failed', error: 'the agent was lost: its processes could not be confirmed gone' };
    if (exit.code === 0) return { status: 'completed', exitCode: 0 };
    if (exit.code !== null) return { status: 'failed', exitCode: exit.code, error: `the agent exited with code ${exit.code}` };
    return { status: 'failed', error: `the agent was terminated by ${exit.signal}` };
  }
}
