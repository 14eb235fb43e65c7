import type { Logger } from '@nestjs/common';
import type { ArtifactData, SessionStatus, TerminalStatus } from '@mosaic/orchestrator-contract';
import type { CallbackDelivery } from '../callbacks/callback-delivery';
import type { SessionEventLog } from '../callbacks/session-event-log';
import type { LogLineDropReason, OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import type { AgentOutputParser } from './adapters/agent-adapter';
import { decodeSpooledLine, type AgentMessage } from './agent-output';
import { OutputThrottle } from './output-throttle';
import type { SpoolRecord, SupervisorExit } from './spool-reader';
import type { AgentHandlers, SupervisedAgent } from './supervised-agent';

/** Why the orchestrator ends a session itself; a time limit the supervisor enforces on its own. */
export type EndReason = 'kill' | 'cancel';

/** The error of a session whose supervisor vanished without recording how its agent ended. */
export const AGENT_LOST_ERROR = 'agent_lost';
/** (v3) The error of a session whose agent said it failed; its own message is in its `result` event. */
export const AGENT_ERROR = 'agent_error';
/** (v3) The error of a session cancelled for printing nothing for AGENT_STALL_TIMEOUT_MS. */
export const AGENT_STALLED_ERROR = 'agent_stalled';
/** (v3) The error of a session cancelled because its workspace grew past WORKSPACE_MAX_BYTES. */
export const WORKSPACE_FULL_ERROR = 'workspace_full';
/** How long an agent that printed its final result may take to exit before it is killed (contract 7.1); it keeps its result. */
export const EXIT_AFTER_RESULT_MS = 30_000;

export interface AgentSessionOptions {
  /** This node's id: the `running` event names it. */
  node: string;
  /** SESSION_TIMEOUT_MS, for the message of a session that exceeded it. */
  timeoutMs: number;
  /** SESSION_SPOOL_MAX_BYTES, for the message about lines the spool could not keep. */
  spoolMaxBytes: number;
  logLinesPerSecond: number;
  delivery: Pick<CallbackDelivery, 'hasRoom'>;
  metrics: Pick<OrchestratorMetrics, 'logLineDropped' | 'spoolRecordRejected'>;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** (v3) AGENT_STALL_TIMEOUT_MS: silent this long, the agent is cancelled (with `cancelGraceMs`). */
  stallTimeoutMs: number;
  cancelGraceMs: number;
  /** EXIT_AFTER_RESULT_MS, shorter in tests. */
  exitAfterResultMs?: number;
}

/**
 * (v3) How one life of the node reads the session's agent: its adapter's parser, and what the session produced
 * (its workspace's changes or its out/ files, and the branch pushed), sent before its terminal status but for a
 * killed one; a later life that finds the agent ended collects them again.
 */
export interface AgentReading {
  readonly parser: AgentOutputParser;
  readonly collectArtifacts?: () => Promise<{ artifacts: readonly ArtifactData[]; branch?: string }>;
}

/** Where the session's events go: numbered, stored and delivered in order (SessionEventLog). */
export type SessionEvents = Pick<SessionEventLog, 'emit' | 'end' | 'comingBytes' | 'settled'>;

/** Starts the agent, or takes over a running one, handing its output to `handlers`; undefined: there is none to take over. */
export type AgentLauncher = (handlers: AgentHandlers & { beforeDelete: () => Promise<void> }) => Promise<SupervisedAgent | undefined>;

interface Outcome {
  status: TerminalStatus;
  exitCode?: number;
  error?: string;
}

/**
 * One session's agent as this node sees it: turns what its supervisor spools into
 * events and what happens to it into status changes. Its OutputThrottle decides
 * what of the agent's output goes out; status changes always go out, the terminal
 * one last. Every event carries the spool position it came from, so a node that
 * takes the session over later goes on exactly after it.
 */
export class AgentSession {
  private endReason?: EndReason;
  private readonly output: OutputThrottle;
  private warnedQueueFull = false;
  private warnedRejected = false;
  private agent?: SupervisedAgent;
  private events?: SessionEvents;
  private ended?: Promise<void>;
  /** This process let go of the agent (it is shutting down): the next life of the node follows it from here. */
  private detached = false;
  private current: SessionStatus = 'pending';
  /** Why the node stopped the agent itself: silent too long, or not exiting after its result. */
  private stopCause?: 'stalled' | 'no_exit_after_result' | 'workspace_full';
  private stallTimer?: NodeJS.Timeout;
  /** (v3) Reads the agent's lines: its kind's adapter's, one per life of the node. */
  private parser?: AgentOutputParser;
  private collectArtifacts?: AgentReading['collectArtifacts'];
  private exitTimer?: NodeJS.Timeout;
  /**
   * The throttle's clock follows the times the supervisor wrote on the records: a
   * backlog read after a restart is held to the rate limits as it would have been
   * when the agent printed it, not as one burst. Between records it runs with the
   * wall clock.
   */
  private clock = { recordTime: Date.now(), readAt: Date.now() };

  constructor(
    readonly sessionId: string,
    private readonly options: AgentSessionOptions,
  ) {
    this.output = new OutputThrottle({
      linesPerSecond: options.logLinesPerSecond,
      hasRoom: () => options.delivery.hasRoom(sessionId, this.events?.comingBytes ?? 0),
      send: (message) => this.send(message),
      onLogLineDropped: (reason) => this.onLogLineDropped(reason),
      now: () => this.clock.recordTime + (Date.now() - this.clock.readAt),
    });
  }

  /** The status as this node last set it. */
  get status(): SessionStatus {
    return this.current;
  }

  /** The agent's process group, once it runs. */
  get agentPid(): number | undefined {
    return this.agent?.agentPid;
  }

  /**
   * Starts the agent; rejects, having produced no event, if it could not be started.
   * A session ended before its agent started (a kill that came during the claim)
   * ends at once, without an agent.
   */
  async start(events: SessionEvents, launch: AgentLauncher, reading: AgentReading): Promise<void> {
    this.events = events;
    this.parser = reading.parser;
    this.collectArtifacts = reading.collectArtifacts;
    if (this.endReason) {
      this.ended = this.finish(undefined);
      return;
    }
    const agent = await launch(this.handlers());
    if (!agent) throw new Error('the supervisor did not start');
    this.current = 'running';
    events.emit({ type: 'status', status: 'running', data: { node: this.options.node } });
    this.follow(agent);
  }

  /**
   * Takes over the running agent of an earlier life of this node, its `running` event
   * long sent. Without a supervisor to take over, the session ends `failed`/agent_lost.
   */
  async resume(events: SessionEvents, attach: AgentLauncher, reading: AgentReading): Promise<void> {
    this.events = events;
    this.parser = reading.parser;
    this.collectArtifacts = reading.collectArtifacts;
    this.current = 'running';
    const agent = await attach(this.handlers());
    if (agent) this.follow(agent);
    else this.ended = this.finish(undefined);
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

  /** (v3) Cancels the session because its workspace grew past its bound (`workspace_full`). */
  async cancelForFullWorkspace(): Promise<void> {
    if (this.endReason !== undefined) return;
    this.stopCause = 'workspace_full';
    await this.end('cancel', this.options.cancelGraceMs);
  }

  /** Stops following the agent (this process is shutting down) once what it produced so far is stored; the agent goes on. */
  async detach(): Promise<void> {
    this.detached = true;
    clearTimeout(this.stallTimer);
    clearTimeout(this.exitTimer);
    if (this.agent) {
      await this.agent.detach();
      // The next life reads on after the last line stored: what the throttle holds back (usage to add up, above all) would be lost.
      this.output.end();
    }
    await this.events?.settled();
  }

  /** Gives the spool back once the session has ended: the supervisor may exit. */
  async release(): Promise<void> {
    await this.agent?.release();
  }

  private handlers(): AgentHandlers & { beforeDelete: () => Promise<void> } {
    return {
      onLine: (record) => this.onLine(record),
      onDropped: (record) => this.onSpoolDropped(record),
      onError: (error) => this.options.logger.error(`session ${this.sessionId}: ${error.message}`),
      onRejected: (raw) => this.onSpoolRecordRejected(raw),
      beforeDelete: () => this.events?.settled() ?? Promise.resolve(),
    };
  }

  private follow(agent: SupervisedAgent): void {
    this.agent = agent;
    this.ended = this.finishWhenDone(agent);
    this.watchForStall();
    // A stop that came while the agent was being started.
    if (this.endReason) void this.stopAgent(agent, this.endReason);
  }

  private async stopAgent(agent: SupervisedAgent, reason: EndReason, graceMs = 0): Promise<void> {
    try {
      if (reason === 'cancel') await agent.terminate(graceMs);
      else await agent.kill();
    } catch (error) {
      this.options.logger.error(`session ${this.sessionId}: ${(error as Error).message}`);
    }
  }

  private onLine({ seq, time, stream, line }: SpoolRecord & { type: 'line' }): void {
    this.clock = { recordTime: time, readAt: Date.now() };
    this.watchForStall();
    if (this.parser === undefined) return;
    for (const message of this.parser.parse(stream, decodeSpooledLine(line))) this.output.offer({ ...message, seq });
    if (this.parser.verdict !== undefined && this.exitTimer === undefined) this.watchForExit();
  }

  /** Restarted by every line: an agent silent for AGENT_STALL_TIMEOUT_MS is cancelled (`agent_stalled`). */
  private watchForStall(): void {
    clearTimeout(this.stallTimer);
    if (this.agent === undefined || this.current !== 'running' || this.detached) return;
    this.stallTimer = setTimeout(() => {
      if (this.endReason !== undefined || this.detached) return;
      this.stopCause = 'stalled';
      void this.end('cancel', this.options.cancelGraceMs);
    }, this.options.stallTimeoutMs);
    this.stallTimer.unref();
  }

  /** An agent that printed its final result but does not exit is killed; it keeps its result (contract 7.1). */
  private watchForExit(): void {
    this.exitTimer = setTimeout(() => {
      if (this.endReason !== undefined || this.detached) return;
      this.stopCause = 'no_exit_after_result';
      void this.end('kill');
    }, this.options.exitAfterResultMs ?? EXIT_AFTER_RESULT_MS);
    this.exitTimer.unref();
  }

  private onSpoolDropped({ seq, count }: SpoolRecord & { type: 'dropped' }): void {
    const line = `orchestrator: ${count} line(s) of output were not kept: the session's spool reached its limit of ${this.options.spoolMaxBytes} bytes while no orchestrator read it`;
    this.events?.emit({ type: 'log', data: { stream: 'stderr', line } }, seq);
  }

  private send(message: AgentMessage): void {
    if (message.type === 'log') this.events?.emit({ type: 'log', data: message.data }, message.seq);
    else this.events?.emit({ type: message.type, status: this.current, data: message.data }, message.seq);
  }

  /** Counted each time, logged once: whoever writes them could otherwise flood the log. */
  private onSpoolRecordRejected(raw: Buffer): void {
    this.options.metrics.spoolRecordRejected();
    if (this.warnedRejected) return;
    this.warnedRejected = true;
    this.options.logger.warn(
      `session ${this.sessionId}: its spool holds a record its supervisor did not write (another process wrote to it); dropped, as every such record will be (counted in orchestrator_spool_records_rejected_total): ${JSON.stringify(raw.subarray(0, 80).toString('latin1'))}`,
    );
  }

  private onLogLineDropped(reason: LogLineDropReason): void {
    this.options.metrics.logLineDropped(reason);
    if (reason !== 'queue_full' || this.warnedQueueFull) return;
    this.warnedQueueFull = true;
    this.options.logger.warn(
      `session ${this.sessionId}: its callbacks are not being delivered and fill their queue: log lines are dropped and counted, progress and result coalesced, usage added up, until delivery resumes`,
    );
  }

  private async finishWhenDone(agent: SupervisedAgent): Promise<void> {
    const exit = await agent.finished;
    clearTimeout(this.stallTimer);
    clearTimeout(this.exitTimer);
    // An exit read while this process let go of the agent is the next life's to report, from the spool: ended here, its
    // end could be half written (the session terminal, its status event not) when this process exits, and then never sent.
    if (this.detached) return;
    this.output.end();
    await this.finish(exit);
  }

  private async finish(exit: SupervisorExit | undefined): Promise<void> {
    const outcome = this.outcome(exit);
    if (exit !== undefined && outcome.status !== 'killed') await this.sendArtifacts();
    this.current = outcome.status;
    await this.events?.end(outcome);
  }

  /** Before the terminal status, so that the API has every artifact of a session it sees ended (contract 7.2). */
  private async sendArtifacts(): Promise<void> {
    if (this.collectArtifacts === undefined) return;
    try {
      const { artifacts, branch } = await this.collectArtifacts();
      for (const data of artifacts) this.events?.emit({ type: 'artifact', data });
      if (branch !== undefined) this.events?.emit({ type: 'result', status: 'running', data: { branch } });
    } catch (error) {
      const line = `orchestrator: the session's artifacts could not be collected: ${(error as Error).message}`;
      this.options.logger.error(`session ${this.sessionId}: ${line}`);
      this.events?.emit({ type: 'log', data: { stream: 'stderr', line: line.slice(0, 4000) } });
    }
  }

  /**
   * An end asked for shows as a death by signal, or for a cancel as any exit after the
   * SIGTERM (the agent stopped because it was asked to); an agent that exited on its
   * own first keeps its own result. The supervisor records the request, so a node
   * that took the session over after the request still reads it right.
   */
  private outcome(exit: SupervisorExit | undefined): Outcome {
    if (exit === undefined) {
      if (this.agent === undefined && this.endReason === 'kill') return { status: 'killed' };
      if (this.agent === undefined && this.endReason === 'cancel') return { status: 'cancelled' };
      return { status: 'failed', error: AGENT_LOST_ERROR };
    }
    const stop = exit.stop;
    const verdict = this.parser?.verdict;
    if (this.stopCause === 'no_exit_after_result' && verdict !== undefined)
      return verdict.succeeded ? { status: 'completed' } : { status: 'failed', error: AGENT_ERROR };
    if (stop === 'cancel' && this.stopCause === 'stalled')
      return { status: 'cancelled', error: AGENT_STALLED_ERROR, ...(exit.code !== null && { exitCode: exit.code }) };
    if (stop === 'cancel' && this.stopCause === 'workspace_full')
      return { status: 'cancelled', error: WORKSPACE_FULL_ERROR, ...(exit.code !== null && { exitCode: exit.code }) };
    if (stop === 'cancel') return { status: 'cancelled', ...(exit.code !== null && { exitCode: exit.code }) };
    // The agent said it failed: whatever its exit code, the session did not succeed.
    if (stop === null && verdict?.succeeded === false)
      return { status: 'failed', error: AGENT_ERROR, ...(exit.code !== null && { exitCode: exit.code }) };
    if (exit.signal !== null && stop === 'kill') return { status: 'killed' };
    if (exit.signal !== null && stop === 'timeout')
      return { status: 'failed', error: `the session exceeded its time limit of ${this.options.timeoutMs} ms and was killed` };
    if (exit.code === 0) return { status: 'completed', exitCode: 0 };
    if (exit.code !== null) return { status: 'failed', exitCode: exit.code, error: `the agent exited with code ${exit.code}` };
    return { status: 'failed', error: `the agent was terminated by ${exit.signal}` };
  }
}
