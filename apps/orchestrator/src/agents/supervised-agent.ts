import { spawn } from 'node:child_process';
import { appendFile, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { liveProcessGroupMembers, processStat } from './process-group';
import { spoolMac } from './spool-key';
import { SpoolReader, type SpoolRecord, type SupervisorExit } from './spool-reader';

/** Built from supervisor/mosaic-supervisor.c by `pnpm build` (scripts/build-supervisor.mjs); the same path from src/ and dist/. */
export const SUPERVISOR_BINARY = resolve(__dirname, '..', '..', 'dist', 'mosaic-supervisor');

/** The supervisor announces its identity within a millisecond or two; this long means it never will. */
const IDENTITY_TIMEOUT_MS = 5_000;
/** How often an adopted supervisor, which is not this process's child, is checked for being alive. */
const LIVENESS_INTERVAL_MS = 1_000;
/** A supervisor told to exit does so within a millisecond; one still there after this is left to exit on its own. */
const EXIT_WAIT_MS = 2_000;

export interface AgentSpec {
  command: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
  /** Whom the agent runs as (AGENT_USER); unset: the orchestrator's own user. */
  user?: { readonly uid: number; readonly gid: number };
  /** The supervisor kills the agent this long after its start (0: never) and records `timeout`. */
  timeoutMs: number;
  maxSpoolBytes: number;
  /** The session's key (sessionSpoolKey): the supervisor gets it on its stdin, where no agent can read it. */
  key: Buffer;
}

export interface AgentHandlers {
  /** One line of output, with its place in the spool and when the agent printed it. */
  onLine: (record: SpoolRecord & { type: 'line' }) => void;
  /** `count` lines were not kept: the spool was full (nobody read it for a while). */
  onDropped: (record: SpoolRecord & { type: 'dropped' }) => void;
  onError: (error: Error) => void;
  /** A record in the spool that its supervisor did not write (see SpoolReaderHandlers): it was dropped. */
  onRejected: (raw: Buffer) => void;
}

/** Who the supervisor is: pid and start time tell it from a later process that got the same pid. */
export interface SupervisorIdentity {
  pid: number;
  startTime: string;
  agentPid: number;
}

/**
 * One agent under its own supervisor process (supervisor/mosaic-supervisor.c), which
 * owns the agent's process group, spools its output to disk and records its exit,
 * and outlives this process: a restarted node adopts it from its spool directory.
 * `finished` resolves with the recorded exit once the agent's whole tree is gone,
 * the supervisor included (it is told to exit once its exit record has been read),
 * or with undefined if the supervisor died without recording one (the agent is lost).
 * The spool directory stays until `release()`.
 */
export class SupervisedAgent {
  readonly finished: Promise<SupervisorExit | undefined>;
  private resolveFinished!: (exit: SupervisorExit | undefined) => void;
  private readonly reader: SpoolReader;
  private livenessTimer?: NodeJS.Timeout;
  private settled = false;
  /** Resolves when the supervisor is gone (set by `start`: this process is its parent and hears of its exit). */
  private supervisorExited?: Promise<unknown>;

  private constructor(
    readonly spoolDir: string,
    readonly identity: SupervisorIdentity,
    after: number,
    private readonly key: Buffer,
    handlers: AgentHandlers & { beforeDelete: () => Promise<void> },
  ) {
    this.finished = new Promise((resolveExit) => (this.resolveFinished = resolveExit));
    this.reader = new SpoolReader(spoolDir, after, key, {
      onRecord: (record) => {
        if (record.type === 'line') handlers.onLine(record);
        else if (record.type === 'dropped') handlers.onDropped(record);
        // The reader's callback cannot wait; the exit is recorded on its own, in the order records came.
        else void this.exitRecorded(record.exit);
      },
      beforeDelete: handlers.beforeDelete,
      onError: handlers.onError,
      onRejected: handlers.onRejected,
    });
  }

  /** The agent's process group. */
  get agentPid(): number {
    return this.identity.agentPid;
  }

  /**
   * Starts a supervisor, which starts the agent; resolves once the supervisor has
   * written its identity (from then on it takes stop requests), rejects if it
   * could not be started.
   */
  static async start(
    spoolDir: string,
    spec: AgentSpec,
    handlers: AgentHandlers & { beforeDelete: () => Promise<void> },
  ): Promise<SupervisedAgent> {
    const args = [
      spoolDir,
      String(spec.maxSpoolBytes),
      String(spec.timeoutMs),
      idArgument(spec.user?.uid),
      idArgument(spec.user?.gid),
      spec.command,
    ];
    // Detached: its own session, so neither a signal to this process's group nor this process's death reaches it.
    // Its stdin carries the session's key, its stdout one line, its identity, once it takes stop requests.
    const child = spawn(SUPERVISOR_BINARY, args, { detached: true, stdio: ['pipe', 'pipe', 'ignore'], cwd: spec.cwd, env: spec.env });
    // A supervisor that exits before reading it (bad arguments) closes the pipe: its exit says why, not this error.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(`${spec.key.toString('hex')}\n`);
    const exited = new Promise<string>((resolveExit) => {
      child.once('error', (error) => resolveExit(error.message));
      child.once('exit', (code, signal) => resolveExit(`it exited (${signal ?? `code ${code}`})`));
    });
    child.unref();
    const stdout = child.stdout!;
    const announced = new Promise<string>((resolveLine) => {
      let text = '';
      stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (text.includes('\n')) resolveLine(text);
      });
    });
    let identity: SupervisorIdentity;
    try {
      const line = await Promise.race([
        announced,
        exited.then((why) => Promise.reject(new Error(`the supervisor could not start the agent: ${why}`))),
        sleep(IDENTITY_TIMEOUT_MS, undefined, { ref: false }).then(() =>
          Promise.reject(new Error(`the supervisor announced no identity within ${IDENTITY_TIMEOUT_MS} ms`)),
        ),
      ]);
      identity = parseIdentity(line, 'the supervisor');
    } finally {
      stdout.destroy();
    }
    const agent = new SupervisedAgent(spoolDir, identity, 0, spec.key, handlers);
    // As its parent, this process learns of its end at once; an adopted one is polled.
    agent.supervisorExited = exited;
    // A reaction to the supervisor's end, whenever it comes; nothing waits for it.
    void exited.then(() => agent.supervisorGone());
    agent.reader.start();
    return agent;
  }

  /**
   * Takes over the supervisor whose spool is `spoolDir`, reading after `after`; `key` is the session's (sessionSpoolKey).
   * Undefined when it never recorded an identity (it did not get as far as starting
   * the agent). A supervisor that is gone is taken over all the same: its spool says
   * how the agent ended, or `finished` resolves undefined.
   */
  static async adopt(
    spoolDir: string,
    after: number,
    key: Buffer,
    handlers: AgentHandlers & { beforeDelete: () => Promise<void> },
  ): Promise<SupervisedAgent | undefined> {
    const identity = await readIdentity(spoolDir);
    if (!identity) return undefined;
    const agent = new SupervisedAgent(spoolDir, identity, after, key, handlers);
    agent.livenessTimer = setInterval(() => void agent.checkAlive(), LIVENESS_INTERVAL_MS);
    agent.livenessTimer.unref();
    agent.reader.start();
    await agent.checkAlive();
    return agent;
  }

  /** SIGKILL to the agent's group; resolves like `finished`, once its whole tree is gone. */
  kill(): Promise<SupervisorExit | undefined> {
    return this.requestStop('kill');
  }

  /** SIGTERM to the agent's group, SIGKILL `graceMs` later; a `kill()` meanwhile does not wait. Resolves like `finished`. */
  terminate(graceMs: number): Promise<SupervisorExit | undefined> {
    return this.requestStop(`cancel ${graceMs}`);
  }

  /** Stops reading the spool (this process is shutting down); the supervisor and its agent go on. */
  async detach(): Promise<void> {
    clearInterval(this.livenessTimer);
    await this.reader.close();
  }

  /** Everything the spool held has been dealt with: it is removed. */
  async release(): Promise<void> {
    await this.detach();
    await rm(this.spoolDir, { recursive: true, force: true });
  }

  private async requestStop(request: string): Promise<SupervisorExit | undefined> {
    if (!this.settled) {
      // After a newline of its own: whatever junk someone else left unterminated stays on a line of its own.
      await appendFile(join(this.spoolDir, 'stop'), `\n${spoolMac(this.key, request)} ${request}\n`, { mode: 0o600 });
      if (isSameProcess(this.identity)) signal(this.identity.pid, 'SIGUSR1');
      else await this.supervisorGone();
    }
    return this.finished;
  }

  private async checkAlive(): Promise<void> {
    if (!this.settled && !isSameProcess(this.identity)) await this.supervisorGone();
  }

  /** The exit record was the last record: the supervisor may go, and the session ends once it has. */
  private async exitRecorded(exit: SupervisorExit): Promise<void> {
    if (this.settled) return;
    clearInterval(this.livenessTimer);
    if (isSameProcess(this.identity)) {
      signal(this.identity.pid, 'SIGUSR2');
      await Promise.race([this.supervisorExited ?? this.waitUntilGone(), sleep(EXIT_WAIT_MS)]);
    }
    this.settle(exit);
  }

  private async waitUntilGone(): Promise<void> {
    for (let wait = 1; isSameProcess(this.identity); wait = Math.min(wait * 2, 20)) await sleep(wait);
  }

  /** The supervisor is gone: what it wrote last is read, and without an exit record the agent is lost. */
  private async supervisorGone(): Promise<void> {
    if (this.settled) return;
    await this.reader.read();
    if (this.settled || this.reader.sawExit) return;
    clearInterval(this.livenessTimer);
    await killStrays(this.identity);
    this.settle(undefined);
  }

  private settle(exit: SupervisorExit | undefined): void {
    if (this.settled) return;
    this.settled = true;
    clearInterval(this.livenessTimer);
    this.resolveFinished(exit);
  }
}

function idArgument(id: number | undefined): string {
  return id === undefined ? '-' : String(id);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function readIdentity(spoolDir: string): Promise<SupervisorIdentity | undefined> {
  const file = join(spoolDir, 'identity');
  try {
    return parseIdentity(await readFile(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseIdentity(text: string, from: string): SupervisorIdentity {
  const match = /^(\d+) (\d+) (\d+)\n$/.exec(text);
  if (!match) throw new Error(`${from} gave no supervisor identity: ${JSON.stringify(text.slice(0, 80))}`);
  return { pid: Number(match[1]), startTime: match[2]!, agentPid: Number(match[3]) };
}

/** The same process that wrote the identity, and not a zombie: a pid alone may have been given to another process since. */
function isSameProcess(identity: Pick<SupervisorIdentity, 'pid' | 'startTime'>): boolean {
  const stat = processStat(identity.pid);
  return stat !== undefined && stat.alive && stat.startTime === identity.startTime;
}

/**
 * A supervisor that died without recording the exit (SIGKILLed by hand, out of memory)
 * may leave its agent's group running: what is still in it and started after the
 * supervisor is killed. Anything older carries a reused pid and is left alone.
 */
async function killStrays(identity: SupervisorIdentity): Promise<void> {
  const strays = async () =>
    (await liveProcessGroupMembers(identity.agentPid)).filter((pid) => {
      const member = processStat(pid);
      return member !== undefined && BigInt(member.startTime) >= BigInt(identity.startTime);
    });
  // The session ends only once they are gone, as after any kill.
  const deadline = Date.now() + EXIT_WAIT_MS;
  for (let left = await strays(); left.length > 0 && Date.now() < deadline; left = await strays()) {
    for (const pid of left) signal(pid, 'SIGKILL');
    await sleep(5);
  }
}
