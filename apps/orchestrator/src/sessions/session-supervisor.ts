import type { Logger } from '@nestjs/common';
import type { CallbackEvent, TerminalStatus } from '@mosaic/orchestrator-contract';
import { randomUUID } from 'node:crypto';
import type { CallbackDelivery } from '../callbacks/callback-delivery';
import type { LogLineDropReason, OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import { parseAgentLine, type AgentMessage, type AgentStream } from './agent-output';
import { AgentProcess, type AgentExit, type AgentStartOptions } from './agent-process';
import { OutputThrottle } from './output-throttle';
import type { Session } from './session';

/** Why the orchestrator ended a session itself. */
export type EndReason = 'kill' | 'cancel' | 'timeout' | 'shutdown';

export interface SupervisorOptions {
  command: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
  user?: AgentStartOptions['user'];
  timeoutMs: number;
  logLinesPerSecond: number;
  delivery: Pick<CallbackDelivery, 'enqueue' | 'hasRoom'>;
  metrics: Pick<OrchestratorMetrics, 'logLineDropped'>;
  logger: Pick<Logger, 'warn' | 'error'>;
}

type EventFields = Pick<CallbackEvent, 'type' | 'status' | 'data'>;

interface Outcome {
  status: TerminalStatus;
  exitCode?: number;
  error?: string;
}

/**
 * Runs one session's agent and turns what happens to it into status changes and
 * callback events. It alone numbers the session's events, after its OutputThrottle
 * decided what of the agent's output goes out, so `sequence` has no gaps; status
 * changes always go out, and once the terminal status event is queued it produces
 * nothing more.
 */
export class SessionSupervisor {
  private lastSequence = 0;
  private terminal = false;
  private endReason?: EndReason;
  private readonly output: OutputThrottle;
  private warnedQueueFull = false;
  private agent?: AgentProcess;
  private timer?: NodeJS.Timeout;
  private ended?: Promise<void>;

  constructor(
    readonly session: Session,
    private readonly options: SupervisorOptions,
  ) {
    this.output = new OutputThrottle({
      linesPerSecond: options.logLinesPerSecond,
      hasRoom: () => options.delivery.hasRoom(session.id),
      send: (message) => this.send(message),
      onLogLineDropped: (reason) => this.onLogLineDropped(reason),
    });
  }

  /** Starts the agent; rejects, having produced no event, if it could not be started. */
  async start(): Promise<void> {
    const agent = await AgentProcess.start({
      command: this.options.command,
      cwd: this.options.cwd,
      env: this.options.env,
      user: this.options.user,
      onLine: (stream, line) => this.onLine(stream, line),
    });
    this.agent = agent;
    this.session.status = 'running';
    this.emit({ type: 'status', status: 'running', data: {} });
    this.timer = setTimeout(() => void this.end('timeout'), this.options.timeoutMs);
    this.ended = this.finishWhenDone(agent);
  }

  get pid(): number | undefined {
    return this.agent?.pid;
  }

  /** Resolves once the session is terminal and its final status event is queued. */
  whenEnded(): Promise<void> {
    return this.ended ?? Promise.resolve();
  }

  /**
   * Kills the agent's process group and waits until the session is terminal. A session
   * that has already ended keeps its status, and the first reason given wins.
   */
  async end(reason: Exclude<EndReason, 'cancel'>): Promise<void> {
    if (!this.agent || this.terminal) return this.whenEnded();
    this.endReason ??= reason;
    try {
      await this.agent.kill();
    } catch (error) {
      this.options.logger.error(`session ${this.session.id}: ${(error as Error).message}`);
    }
    return this.whenEnded();
  }

  /**
   * Asks the agent to stop (SIGTERM to its group), kills what is left after `graceMs`,
   * and waits until the session is terminal; a second cancel waits for the first one's
   * end. A kill during the grace does not wait for it: `end` SIGKILLs at once, but the
   * status stays `cancelled`, as the first reason given wins: the caller that cancelled
   * is answered with what it asked for, and the kill's own answer says so too.
   */
  async cancel(graceMs: number): Promise<void> {
    if (!this.agent || this.terminal) return this.whenEnded();
    this.endReason ??= 'cancel';
    // The same promise as `agent.finished`, whose failure finishWhenDone reports.
    void this.agent.terminate(graceMs);
    return this.whenEnded();
  }

  private onLine(stream: AgentStream, line: string): void {
    this.output.offer(parseAgentLine(stream, line));
  }

  private send(message: AgentMessage): void {
    if (message.type === 'log') this.emit({ type: 'log', data: message.data });
    else this.emit({ type: message.type, status: this.session.status, data: message.data });
  }

  private onLogLineDropped(reason: LogLineDropReason): void {
    this.options.metrics.logLineDropped(reason);
    if (reason !== 'queue_full' || this.warnedQueueFull) return;
    this.warnedQueueFull = true;
    this.options.logger.warn(
      `session ${this.session.id}: its callbacks are not being delivered and fill their queue: log lines are dropped and counted, progress and result coalesced, until delivery resumes`,
    );
  }

  private async finishWhenDone(agent: AgentProcess): Promise<void> {
    let exit: AgentExit | undefined;
    try {
      exit = await agent.finished;
    } catch (error) {
      this.options.logger.error(`session ${this.session.id}: ${(error as Error).message}`);
    }
    clearTimeout(this.timer);
    this.output.end();
    const outcome = this.outcome(exit);
    Object.assign(this.session, { status: outcome.status, endedAt: new Date(), exitCode: outcome.exitCode, error: outcome.error });
    const data = { ...(outcome.exitCode !== undefined && { exit_code: outcome.exitCode }), ...(outcome.error !== undefined && { error: outcome.error }) };
    this.emit({ type: 'status', status: outcome.status, data }, true);
  }

  /**
   * An end we caused shows as a death by signal, or, for a cancel, as any exit after the
   * SIGTERM (an agent that handles it exits with a code of its choice); an agent that
   * exited on its own first keeps its own result.
   */
  private outcome(exit: AgentExit | undefined): Outcome {
    const causedByUs = exit === undefined || exit.signal !== null || (this.endReason === 'cancel' && exit.terminated);
    if (this.endReason && causedByUs) {
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

  private emit(fields: EventFields, last = false): void {
    if (this.terminal) return;
    this.terminal = last;
    const event = {
      event_id: randomUUID(),
      session_id: this.session.id,
      sequence: ++this.lastSequence,
      timestamp: new Date().toISOString(),
      ...fields,
    } as CallbackEvent;
    this.options.delivery.enqueue(this.session.callback, event, last);
  }
}
