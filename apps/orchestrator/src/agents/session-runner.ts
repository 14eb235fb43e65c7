import { Inject, Injectable, Logger } from '@nestjs/common';
import { agentSchema, isTerminalStatus, spawnTaskSchema, type AgentSettings, type RepositoryRequest } from '@mosaic/orchestrator-contract';
import { chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CallbackDelivery } from '../callbacks/callback-delivery';
import { SessionEventLog } from '../callbacks/session-event-log';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import { SESSION_STORE, type SessionStore, type StoredSession } from '../store/session-store';
import { AgentAdapters, type ResolvedAgent } from './adapters/agent-adapters';
import { AgentSession, type AgentReading, type EndReason } from './agent-session';
import { shellQuote } from '../config/shell-quote';
import { sessionSpoolKey } from './spool-key';
import { SupervisedAgent, type AgentSpec } from './supervised-agent';
import { RepositoryCache } from '../workspaces/repository-cache';
import { collectArtifacts, prepareWorkspace, removeWorkspace, workspaceBytes } from '../workspaces/workspace';
import { createSessionWorkdir, TASK_FILE_NAME } from './workdir';

/** How long start-up waits for the leftover agent of a session that is no longer this node's to die. */
const LEFTOVER_KILL_TIMEOUT_MS = 10_000;

/** How often a running session's workspace is measured against WORKSPACE_MAX_BYTES. */
const WORKSPACE_CHECK_MS = 5_000;
/** The bound of one git command (a first clone of a large repository included). */
const GIT_TIMEOUT_MS = 10 * 60 * 1000;

/** The agent finds its task file through this variable. */
export const TASK_FILE_ENV = 'MOSAIC_TASK_FILE';

/**
 * The agents this node runs. A session comes here from the queue; it runs only if
 * this node wins its claim in the store (pending → running), so neither a queue
 * job handed out twice nor a kill that got there first can start a second agent
 * or an unwanted one. Each agent runs under its own supervisor process, which
 * outlives this one: on start-up the node adopts what an earlier life of it left
 * running (`adoptAll`), and on shutdown it lets go of its agents (`detachAll`).
 */
@Injectable()
export class SessionRunner {
  private readonly logger = new Logger(SessionRunner.name);
  /** Registered before the claim, so that a kill arriving while the agent starts finds it. */
  private readonly local = new Map<string, AgentSession>();
  private readonly workspaceWatches = new Map<string, NodeJS.Timeout>();
  private cache?: Promise<RepositoryCache>;
  private detached = false;

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly delivery: CallbackDelivery,
    private readonly metrics: OrchestratorMetrics,
    private readonly adapters: AgentAdapters,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
  ) {}

  /** Sessions of this node not yet terminal: a slot is free again from the moment its session ends. */
  get activeSessions(): number {
    return [...this.local.values()].filter((session) => !isTerminalStatus(session.status)).length;
  }

  has(sessionId: string): boolean {
    return this.local.has(sessionId);
  }

  /** The sessions whose agents this node runs now (not those that ended and are being cleaned up). */
  runningSessionIds(): string[] {
    return [...this.local].filter(([, session]) => !isTerminalStatus(session.status)).map(([id]) => id);
  }

  /** Runs the session's agent to its end, if this node wins the session; the queue's worker calls it. */
  async run(sessionId: string): Promise<void> {
    const agentSession = this.agentSessionFor(sessionId);
    this.local.set(sessionId, agentSession);
    const session = await this.store.claim(sessionId, this.config.nodeId).catch((error: unknown) => {
      this.local.delete(sessionId);
      throw error;
    });
    if (!session) {
      this.local.delete(sessionId);
      return;
    }
    const events = new SessionEventLog(session, this.store, this.delivery, this.logger);
    const workdir = this.workdirOf(sessionId);
    const spoolDir = this.spoolDirOf(sessionId);
    try {
      const task = taskOf(session.taskJson);
      const resolved = this.adapters.resolve(task.agent);
      // The callback token stays with the orchestrator: the agent reports on stdout, never to the API.
      await createSessionWorkdir(workdir, session.taskJson, this.config.agentUser);
      await mkdir(spoolDir, { mode: 0o700 });
      await prepareWorkspace({
        sessionId,
        path: this.workspaceOf(sessionId),
        ...(task.repository === undefined ? {} : { repository: task.repository }),
        cache: await this.repositoryCache(),
        ...(this.config.agentUser === undefined ? {} : { owner: this.config.agentUser }),
      });
      const spec = await this.agentSpec(sessionId, task, resolved);
      await agentSession.start(events, (handlers) => SupervisedAgent.start(spoolDir, spec, handlers), this.readingOf(sessionId, task));
      this.watchWorkspace(sessionId, agentSession);
      this.logStatusChange(session, 'pending', 'running');
    } catch (error) {
      this.logger.error(`session ${session.id}: the agent could not be started: ${(error as Error).message}`);
      await events.end({ status: 'failed', error: 'the agent could not be started' });
    }
    await this.followToEnd(session, agentSession, events);
  }

  /**
   * Takes over what an earlier life of this node left: each session still `running`
   * here gets its supervisor adopted (its unacknowledged events sent first, with their
   * ids), or ends `failed`/agent_lost when there is none. A spool whose session is no
   * longer this node's (it was declared lost meanwhile, or ended) has its agent killed,
   * and is removed once what it had not delivered has gone out, in the background: an
   * API that is slow or down must not keep this node from starting. Returns, for each
   * adopted session, a promise that resolves when it has ended (its slot is free).
   */
  async adoptAll(): Promise<Promise<void>[]> {
    await mkdir(this.config.sessionSpoolDir, { recursive: true, mode: 0o700 });
    const spooled = new Set(await readdir(this.config.sessionSpoolDir));
    const adopted: Promise<void>[] = [];
    for (const session of await this.store.runningOn(this.config.nodeId)) {
      if (this.local.has(session.id)) continue;
      spooled.delete(session.id);
      await this.resendUnacknowledged(session);
      adopted.push(this.adopt(session));
    }
    for (const id of spooled) await this.removeLeftover(id);
    return adopted;
  }

  /** Ends a session this node runs; resolves once its whole process tree is gone. */
  async end(sessionId: string, reason: EndReason, graceMs?: number): Promise<void> {
    await this.local.get(sessionId)?.end(reason, graceMs);
  }

  /**
   * Lets go of every agent (this process is shutting down): what they produced so far
   * is stored, the rest waits in their spools for the next life of this node.
   */
  async detachAll(): Promise<void> {
    this.detached = true;
    await Promise.all([...this.local.values()].map((session) => session.detach()));
  }

  private adopt(session: StoredSession): Promise<void> {
    const agentSession = this.agentSessionFor(session.id);
    this.local.set(session.id, agentSession);
    const events = new SessionEventLog(session, this.store, this.delivery, this.logger);
    const spoolDir = this.spoolDirOf(session.id);
    this.logger.log({
      msg: 'adopting the running agent of an earlier life of this node',
      session_id: session.id,
      node: this.config.nodeId,
      spool_position: session.spoolPosition,
    });
    const attach = (handlers: Parameters<typeof SupervisedAgent.adopt>[3]) =>
      SupervisedAgent.adopt(spoolDir, session.spoolPosition, this.spoolKeyOf(session.id), handlers).catch((error: Error) => {
        this.logger.error(`session ${session.id}: its supervisor cannot be adopted: ${error.message}`);
        return undefined;
      });
    return agentSession
      .resume(events, attach, this.readingOf(session.id, taskOf(session.taskJson)))
      .then(() => this.watchWorkspace(session.id, agentSession))
      .then(() => this.followToEnd(session, agentSession, events))
      .catch((error: Error) => this.logger.error(`session ${session.id}: could not be adopted: ${error.message}`));
  }

  /**
   * Resolves once the session is terminal and its last event stored (the queue's slot is
   * free again then); its spool and directory are cleaned up afterwards, in the background.
   */
  private async followToEnd(session: StoredSession, agentSession: AgentSession, events: SessionEventLog): Promise<void> {
    await agentSession.whenEnded();
    clearInterval(this.workspaceWatches.get(session.id));
    this.workspaceWatches.delete(session.id);
    if (this.detached) return;
    this.logStatusChange(session, 'running', agentSession.status);
    await events.settled();
    // The session has ended; removing its leftovers logs its own failures and must not delay the next start.
    void this.cleanUp(session.id, agentSession);
  }

  private async cleanUp(sessionId: string, agentSession: AgentSession): Promise<void> {
    // The spool stays until the last event has been dealt with: a restart meanwhile finds it and sends what is left.
    if (!(await this.delivery.whenDealtWith(sessionId))) return;
    await agentSession
      .release()
      .catch((error: Error) => this.logger.warn(`session ${sessionId}: could not release its spool: ${error.message}`));
    await this.removeWorkspace(sessionId);
    for (const dir of [this.spoolDirOf(sessionId), this.workdirOf(sessionId)]) {
      await rm(dir, { recursive: true, force: true }).catch((error: Error) =>
        this.logger.warn(`could not remove ${dir}: ${error.message}`),
      );
    }
    this.local.delete(sessionId);
  }

  private async removeLeftover(sessionId: string): Promise<void> {
    const session = await this.store.get(sessionId);
    if (session) await this.resendUnacknowledged(session);
    const spoolDir = this.spoolDirOf(sessionId);
    const agent = await SupervisedAgent.adopt(spoolDir, Number.MAX_SAFE_INTEGER, this.spoolKeyOf(sessionId), {
      onLine: () => undefined,
      onDropped: () => undefined,
      onError: () => undefined,
      onRejected: () => undefined,
      beforeDelete: () => Promise.resolve(),
    }).catch(() => undefined);
    if (agent) {
      this.logger.warn(
        `session ${sessionId} is no longer this node's (${session?.status ?? 'unknown to the store'}): stopping what is left of its agent`,
      );
      // A tree that will not die (a process stuck in the kernel) must not keep this node from starting.
      const stopped = await Promise.race([agent.kill().then(() => true), sleep(LEFTOVER_KILL_TIMEOUT_MS, false, { ref: false })]);
      if (!stopped)
        this.logger.error(
          `session ${sessionId}: what is left of its agent did not end within ${LEFTOVER_KILL_TIMEOUT_MS} ms; its spool stays`,
        );
      await agent.detach();
      if (!stopped) return;
    }
    // The spool goes only once its last events are delivered, which may be long after this returns.
    void this.removeOnceDealtWith(sessionId);
  }

  /** Removes a leftover's spool and work directory once its events have been dealt with; after a stop they stay for the next life. */
  private async removeOnceDealtWith(sessionId: string): Promise<void> {
    if (!(await this.delivery.whenDealtWith(sessionId))) return;
    await this.removeWorkspace(sessionId);
    for (const dir of [this.spoolDirOf(sessionId), this.workdirOf(sessionId)]) {
      await rm(dir, { recursive: true, force: true }).catch((error: Error) =>
        this.logger.warn(`could not remove ${dir}: ${error.message}`),
      );
    }
  }

  private async resendUnacknowledged(session: StoredSession): Promise<void> {
    const events = await this.store.unacknowledgedEvents(session.id);
    events.forEach((event, index) =>
      this.delivery.enqueue(session.callback, event, isTerminalStatus(session.status) && index === events.length - 1),
    );
  }

  private agentSessionFor(sessionId: string): AgentSession {
    return new AgentSession(sessionId, {
      node: this.config.nodeId,
      timeoutMs: this.config.sessionTimeoutMs,
      spoolMaxBytes: this.config.sessionSpoolMaxBytes,
      logLinesPerSecond: this.config.logLinesPerSecond,
      delivery: this.delivery,
      metrics: this.metrics,
      logger: this.logger,
      stallTimeoutMs: this.config.agentStallTimeoutMs,
      cancelGraceMs: this.config.cancelGraceMs,
    });
  }

  /**
   * How the session's agent is started. A `command` agent runs AGENT_COMMAND in the session's directory, beside its
   * task file; any other kind runs its program in a workspace of its own, with a home of its own beside it (its
   * settings and credentials stay out of the workspace, and so out of what it changed).
   */
  private async agentSpec(sessionId: string, task: SpawnedTask, resolved: ResolvedAgent): Promise<AgentSpec> {
    const workdir = this.workdirOf(sessionId);
    const common = {
      user: this.config.agentUser,
      timeoutMs: this.config.sessionTimeoutMs,
      maxSpoolBytes: this.config.sessionSpoolMaxBytes,
      key: this.spoolKeyOf(sessionId),
    };
    const mosaic = { MOSAIC_SESSION_ID: sessionId, [TASK_FILE_ENV]: join(workdir, TASK_FILE_NAME) };
    const workspace = this.workspaceOf(sessionId);
    if (task.agent.kind === 'command') {
      return { ...common, command: this.config.agentCommand, cwd: workspace, env: { ...this.config.agentEnv, ...mosaic } };
    }
    const home = join(workdir, 'home');
    await this.agentDirectory(home);
    const launch = this.adapters.launch(resolved, { agent: task.agent, prompt: promptOf(task), home });
    for (const [name, content] of Object.entries(launch.files ?? {})) {
      const file = join(home, name);
      await this.agentDirectory(dirname(file));
      await writeFile(file, content, { mode: 0o600, flag: 'wx' });
      if (this.config.agentUser !== undefined) await chown(file, this.config.agentUser.uid, this.config.agentUser.gid);
    }
    return {
      ...common,
      command: `exec ${launch.argv.map(shellQuote).join(' ')}`,
      cwd: workspace,
      env: { ...this.config.agentEnv, HOME: home, ...launch.env, ...mosaic },
    };
  }

  /** How this life reads the session's agent (its adapter's parser) and collects what it produced. */
  private readingOf(sessionId: string, task: SpawnedTask): AgentReading {
    return {
      parser: this.adapters.parser(task.agent),
      collectArtifacts: async () => {
        const collected = await collectArtifacts({
          sessionId,
          path: this.workspaceOf(sessionId),
          ...(task.repository === undefined ? {} : { repository: task.repository }),
          cache: await this.repositoryCache(),
          maxBytes: this.config.artifactMaxBytes,
        });
        for (const skipped of collected.skipped) this.logger.warn(`session ${sessionId}: an artifact was left out: ${skipped}`);
        return { artifacts: collected.artifacts, ...(collected.branch === undefined ? {} : { branch: collected.branch }) };
      },
    };
  }

  /** Every few seconds while the agent runs: past WORKSPACE_MAX_BYTES, the session is cancelled (`workspace_full`). */
  private watchWorkspace(sessionId: string, agentSession: AgentSession): void {
    const path = this.workspaceOf(sessionId);
    let measuring = false;
    const watch = setInterval(() => {
      if (measuring) return;
      measuring = true;
      workspaceBytes(path)
        .then((bytes) => (bytes > this.config.workspaceMaxBytes ? agentSession.cancelForFullWorkspace() : undefined))
        .catch(() => undefined)
        .finally(() => (measuring = false));
    }, WORKSPACE_CHECK_MS);
    watch.unref();
    this.workspaceWatches.set(sessionId, watch);
  }

  /** This node's mirrors of the repositories its sessions work on, opened on first use. */
  private repositoryCache(): Promise<RepositoryCache> {
    this.cache ??= RepositoryCache.open({
      root: this.config.repositoryCacheDir,
      ...(this.config.agentUser === undefined ? {} : { readerGid: this.config.agentUser.gid }),
      env: this.config.agentEnv,
      timeoutMs: GIT_TIMEOUT_MS,
    });
    return this.cache;
  }

  /** The workspace goes with the session's own git directory, which lives in the repository cache. */
  private async removeWorkspace(sessionId: string): Promise<void> {
    const cache = await this.repositoryCache().catch(() => undefined);
    if (cache === undefined) return;
    await removeWorkspace({ sessionId, path: this.workspaceOf(sessionId), cache }).catch((error: Error) =>
      this.logger.warn(`session ${sessionId}: could not remove its workspace: ${error.message}`),
    );
  }

  private workspaceOf(sessionId: string): string {
    return join(this.workdirOf(sessionId), 'workspace');
  }

  /** A directory of the agent's own (0700, its user's), made exclusively: nothing planted there is reused. */
  private async agentDirectory(path: string): Promise<void> {
    await mkdir(path, { mode: 0o700, recursive: true });
    if (this.config.agentUser !== undefined) await chown(path, this.config.agentUser.uid, this.config.agentUser.gid);
  }

  /** From the node's secret: a restarted node, and only a holder of that secret, has it again. */
  private spoolKeyOf(sessionId: string): Buffer {
    return sessionSpoolKey(this.config.apiKey, sessionId);
  }

  private workdirOf(sessionId: string): string {
    return join(this.config.sessionWorkdirRoot, sessionId);
  }

  private spoolDirOf(sessionId: string): string {
    return join(this.config.sessionSpoolDir, sessionId);
  }

  /** With the spawn's request id: the line belongs to that request's story, though the queue ran it later. */
  private logStatusChange(session: StoredSession, from: string, to: string): void {
    this.logger.log({
      msg: 'session status changed',
      session_id: session.id,
      from,
      to,
      node: this.config.nodeId,
      request_id: session.callback.origin.requestId,
    });
  }
}

/** The task as the spawn gave it (validated then): its agent, `command` when it names none. */
interface SpawnedTask {
  readonly title: string;
  readonly description?: string | null;
  readonly agent: AgentSettings;
  readonly repository?: RepositoryRequest;
}

function taskOf(taskJson: string): SpawnedTask {
  const { task } = JSON.parse(taskJson) as { task: unknown };
  const parsed = spawnTaskSchema.parse(task);
  return {
    title: parsed.title,
    description: parsed.description,
    agent: parsed.agent ?? agentSchema.parse({}),
    ...(parsed.repository === undefined ? {} : { repository: parsed.repository }),
  };
}

/** What the agent is asked: its own prompt, or the task's title and description. */
function promptOf(task: SpawnedTask): string {
  if (task.agent.prompt !== undefined) return task.agent.prompt;
  return task.description ? `${task.title}\n\n${task.description}` : task.title;
}
