import { watch, type FSWatcher } from 'node:fs';
import { access, open, readdir, unlink } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { AgentStream } from './agent-output';
import { isSpoolMac, MAC_HEX_LENGTH } from './spool-key';

/** What a supervisor was asked to do before its agent exited; `timeout` it did itself (SESSION_TIMEOUT_MS). */
export type StopKind = 'kill' | 'cancel' | 'timeout';

/** How the agent ended, as its supervisor recorded it once the agent's whole process group was gone. */
export interface SupervisorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stop: StopKind | null;
}

/** One record of a spool (the format is defined in supervisor/mosaic-supervisor.c); `time`: when the supervisor wrote it, ms since the epoch. */
export type SpoolRecord = { seq: number; time: number } & (
  { type: 'line'; stream: AgentStream; line: Buffer } | { type: 'dropped'; count: number } | { type: 'exit'; exit: SupervisorExit }
);

export interface SpoolReaderHandlers {
  onRecord: (record: SpoolRecord) => void;
  /**
   * Called before a segment that has been read to its end is deleted: it resolves once
   * everything its records produced is kept elsewhere (the store), so that deleting
   * the segment loses nothing a restarted node would need.
   */
  beforeDelete: () => Promise<void>;
  onError: (error: Error) => void;
  /**
   * A record that is not the supervisor's (its MAC does not check: written by someone
   * else, an agent of the same uid say, or cut by junk written before it), or that it
   * wrote earlier (a copy): dropped.
   */
  onRejected: (raw: Buffer) => void;
}

const SEGMENT_NAME = /^spool\.(\d+)$/;
const READ_CHUNK_BYTES = 256 * 1024;
/** A missed watch event (an overflowed inotify queue) costs at most this much delay. */
const POLL_INTERVAL_MS = 1_000;
const NEWLINE = 0x0a;
const SPACE = 0x20;

export function segmentPath(dir: string, index: number): string {
  return join(dir, `spool.${String(index).padStart(6, '0')}`);
}

/**
 * Follows one session's spool as its supervisor writes it, record by record, skipping
 * the lines up to `after` (already turned into events by an earlier life of this node).
 * A segment is complete once the next one exists (the supervisor never writes to an
 * older one again); then it is deleted, which gives its bytes back to the spool's bound.
 */
export class SpoolReader {
  private segment?: number;
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  private reading?: Promise<void>;
  private readAgain = false;
  private closed = false;
  private exited = false;
  /** The seq of the last authentic record: one that comes again is a copy. */
  private lastSeq = 0;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dir: string,
    private readonly after: number,
    /** The session's key (sessionSpoolKey): only records with its MAC are the supervisor's. */
    private readonly key: Buffer,
    private readonly handlers: SpoolReaderHandlers,
  ) {}

  /** Whether the exit record, the last one, has been read. */
  get sawExit(): boolean {
    return this.exited;
  }

  start(): void {
    this.watcher = watch(this.dir, () => void this.read());
    this.watcher.on('error', (error) => this.handlers.onError(error));
    this.timer = setInterval(() => void this.read(), POLL_INTERVAL_MS);
    this.timer.unref();
    // The first read starts at once; read() reports its own failures through onError.
    void this.read();
  }

  /** Reads whatever has been written; resolves once it has been read (also when a read was already running). */
  read(): Promise<void> {
    if (this.closed || this.exited) return this.reading ?? Promise.resolve();
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = this.readAll()
      .catch((error: Error) => this.handlers.onError(error))
      .finally(() => {
        this.reading = undefined;
        if (this.readAgain) {
          this.readAgain = false;
          // A write came during the last read: read again, reporting failures through onError.
          void this.read();
        }
      });
    return this.reading;
  }

  /** Stops following the spool; resolves once a read in progress is over. Records are no longer handed out. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.timer);
    await this.reading;
  }

  private async readAll(): Promise<void> {
    this.segment ??= await this.firstSegment();
    while (this.segment !== undefined && !this.closed && !this.exited) {
      // Looked at before the read: if the next segment exists now, this one was complete before this read began.
      const nextExists = await exists(segmentPath(this.dir, this.segment + 1));
      await this.readSegment(this.segment);
      if (!nextExists || this.closed || this.exited) return;
      if (this.partial.length > 0)
        this.handlers.onError(new Error(`spool segment ${this.segment} of ${this.dir} ends inside a record; the rest of it is skipped`));
      const done = this.segment;
      this.segment = done + 1;
      this.offset = 0;
      this.partial = Buffer.alloc(0);
      await this.handlers.beforeDelete();
      await unlink(segmentPath(this.dir, done)).catch(ignoreMissing);
    }
  }

  private async firstSegment(): Promise<number | undefined> {
    const indexes = (await readdir(this.dir)).flatMap((name) => {
      const match = SEGMENT_NAME.exec(name);
      return match ? [Number(match[1])] : [];
    });
    return indexes.length === 0 ? undefined : Math.min(...indexes);
  }

  private async readSegment(index: number): Promise<void> {
    const file = await open(segmentPath(this.dir, index), 'r');
    try {
      for (;;) {
        // Sized to what is new: most reads (a wake-up per line, a poll a second) find a line or nothing, and a
        // fixed 256 KiB buffer per read cost 50 MiB/s of allocation with 200 quiet agents.
        const unread = (await file.stat()).size - this.offset;
        if (unread <= 0) return;
        const chunk = Buffer.allocUnsafe(Math.min(unread, READ_CHUNK_BYTES));
        const { bytesRead } = await file.read(chunk, 0, chunk.length, this.offset);
        if (bytesRead === 0) return;
        this.offset += bytesRead;
        this.take(chunk.subarray(0, bytesRead));
        if (this.closed || this.exited) return;
      }
    } finally {
      await file.close();
    }
  }

  private take(bytes: Buffer): void {
    let data = this.partial.length > 0 ? Buffer.concat([this.partial, bytes]) : bytes;
    for (let newline = data.indexOf(NEWLINE); newline !== -1 && !this.closed && !this.exited; newline = data.indexOf(NEWLINE)) {
      this.handle(data.subarray(0, newline));
      data = data.subarray(newline + 1);
    }
    // Copied: the rest of a line must not keep the whole read buffer alive.
    this.partial = Buffer.from(data);
  }

  private handle(raw: Buffer): void {
    const body = raw.subarray(MAC_HEX_LENGTH + 1);
    if (raw[MAC_HEX_LENGTH] !== SPACE || !isSpoolMac(this.key, body, raw.subarray(0, MAC_HEX_LENGTH))) {
      this.handlers.onRejected(raw);
      return;
    }
    const record = parseRecord(body);
    if (record && record.seq <= this.lastSeq) {
      this.handlers.onRejected(raw);
      return;
    }
    if (record) this.lastSeq = record.seq;
    if (!record) {
      this.handlers.onError(new Error(`unreadable spool record in ${this.dir}: ${JSON.stringify(raw.subarray(0, 80).toString('utf8'))}`));
      return;
    }
    // The exit is handed out whatever `after` says: no event carries its position, and a session ends with it.
    if (record.type === 'exit') this.exited = true;
    if (record.seq > this.after || record.type === 'exit') this.handlers.onRecord(record);
  }
}

/** A record's body, after its MAC: `<seq> <time> <kind> <payload>`: O and E lines, D dropped-lines counts, X the exit. */
export function parseRecord(raw: Buffer): SpoolRecord | undefined {
  const first = raw.indexOf(SPACE);
  const second = raw.indexOf(SPACE, first + 1);
  const seq = positiveInteger(raw.subarray(0, first));
  const time = positiveInteger(raw.subarray(first + 1, second));
  if (first < 1 || second < 0 || seq === undefined || time === undefined || raw.length < second + 2) return undefined;
  const kind = String.fromCharCode(raw[second + 1]!);
  const payload = raw.subarray(Math.min(raw.length, second + 3));
  switch (kind) {
    case 'O':
    case 'E':
      return { seq, time, type: 'line', stream: kind === 'O' ? 'stdout' : 'stderr', line: payload };
    case 'D': {
      const count = positiveInteger(payload);
      return count === undefined ? undefined : { seq, time, type: 'dropped', count };
    }
    case 'X': {
      const exit = parseExit(payload.toString('latin1'));
      return exit && { seq, time, type: 'exit', exit };
    }
    default:
      return undefined;
  }
}

function positiveInteger(digits: Buffer): number | undefined {
  const value = Number(digits.toString('latin1'));
  return digits.length > 0 && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function parseExit(payload: string): SupervisorExit | undefined {
  const [code, signal, stop] = payload.split(' ');
  if (code === undefined || signal === undefined || stop === undefined) return undefined;
  const exit: SupervisorExit = {
    code: code === '-' ? null : Number(code),
    signal: signal === '-' ? null : signalName(Number(signal)),
    stop: stop === 'kill' || stop === 'cancel' || stop === 'timeout' ? stop : null,
  };
  if (exit.code !== null && !Number.isInteger(exit.code)) return undefined;
  return exit;
}

function signalName(number: number): NodeJS.Signals {
  const entry = Object.entries(constants.signals).find(([, value]) => value === number);
  return (entry?.[0] ?? 'SIGKILL') as NodeJS.Signals;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
