import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../../../test/support/eventually';

jest.setTimeout(30_000);

const binary = path.resolve(__dirname, '../../dist/mosaic-supervisor');

/** The MAC the protocol puts before a record and a stop request, computed here by Node's crypto. */
const macOf = (key: Buffer, body: string) => createHmac('sha256', key).update(body, 'latin1').digest('hex').slice(0, 32);

/** Starts a supervisor, giving it `key` on its stdin as the orchestrator does. */
function spawnSupervisor(args: string[], key: Buffer, options: SpawnOptions = {}): ChildProcess {
  const child = spawn(binary, args, { detached: true, ...options, stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(`${key.toString('hex')}\n`);
  return child;
}

interface SpoolRecord {
  seq: number;
  /** When the supervisor wrote it, ms since the epoch. */
  time: number;
  kind: string;
  /** The rest of the record after its kind, as latin1 so that any byte survives. */
  body: string;
}

/** Reads a spool dir's segments as the orchestrator will: in order, complete lines only, optionally deleting segments it has read. */
class SpoolReader {
  readonly records: SpoolRecord[] = [];
  private segment = 1;
  private offset = 0;
  deleted = 0;
  /** The largest total of line-record bytes seen on disk at once. */
  maxLineBytesOnDisk = 0;

  constructor(
    readonly dir: string,
    private readonly key: Buffer,
    private readonly deleteConsumed = false,
  ) {}

  private file(segment: number): string {
    return path.join(this.dir, `spool.${String(segment).padStart(6, '0')}`);
  }

  poll(): void {
    this.measure();
    for (;;) {
      // Checked before reading: once the next segment exists, this one gets nothing more.
      const sealed = existsSync(this.file(this.segment + 1));
      if (!existsSync(this.file(this.segment))) return;
      const data = readFileSync(this.file(this.segment)).subarray(this.offset);
      const end = data.lastIndexOf(0x0a) + 1;
      for (const line of data.subarray(0, end).toString('latin1').split('\n').slice(0, -1)) {
        const match = /^([0-9a-f]{32}) ((\d+) (\d+) ([OEDX]) ?(.*))$/s.exec(line);
        if (!match) throw new Error(`malformed record ${JSON.stringify(line.slice(0, 80))}`);
        if (match[1] !== macOf(this.key, match[2]!)) throw new Error(`wrong MAC on ${JSON.stringify(line.slice(0, 80))}`);
        this.records.push({ seq: Number(match[3]), time: Number(match[4]), kind: match[5]!, body: match[6]! });
      }
      this.offset += end;
      if (!sealed) return;
      if (this.deleteConsumed) {
        unlinkSync(this.file(this.segment));
        this.deleted++;
      }
      this.segment++;
      this.offset = 0;
    }
  }

  private measure(): void {
    let bytes = 0;
    for (const name of readdirSync(this.dir).filter((entry) => entry.startsWith('spool.'))) {
      try {
        const text = readFileSync(path.join(this.dir, name), 'latin1');
        bytes += text.length - [...text.matchAll(/^[0-9a-f]{32} \d+ \d+ [DX] [^\n]*\n/gm)].reduce((sum, m) => sum + m[0].length, 0);
      } catch {
        // deleted meanwhile
      }
    }
    this.maxLineBytesOnDisk = Math.max(this.maxLineBytesOnDisk, bytes);
  }

  get exit(): SpoolRecord | undefined {
    return this.records.find((record) => record.kind === 'X');
  }

  lines(kind = 'O'): string[] {
    return this.records.filter((record) => record.kind === kind).map((record) => record.body);
  }

  async until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    await eventually(() => {
      this.poll();
      if (!condition()) throw new Error(`condition not met; records so far: ${JSON.stringify(this.records.slice(-5))}`);
    }, timeoutMs);
  }

  async waitForExit(timeoutMs = 10_000): Promise<SpoolRecord> {
    await this.until(() => this.exit !== undefined, timeoutMs);
    return this.exit!;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    return false;
  }
}

/** Fields of /proc/<pid>/stat, numbered as in proc(5) (1: pid). */
function procStat(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = stat.lastIndexOf(')');
  return [
    String(pid),
    stat.slice(stat.indexOf('(') + 1, close),
    ...stat
      .slice(close + 2)
      .trim()
      .split(' '),
  ];
}

interface Session {
  child: ChildProcess;
  dir: string;
  spool: SpoolReader;
  /** Appends the request with its MAC, as the orchestrator does, and signals. */
  stop(request: string): void;
  /** The stop file's line for `request`. */
  stopLine(request: string): string;
}

describe('mosaic-supervisor', () => {
  const dirs: string[] = [];
  const supervisors: number[] = [];

  afterEach(async () => {
    for (const pid of supervisors.splice(0)) {
      if (!alive(pid)) continue;
      // Its agent's group (the identity's third field) first, so that no agent outlives the test.
      for (const dir of dirs) {
        const identity = path.join(dir, 'identity');
        if (!existsSync(identity)) continue;
        const [supervisor, , agent] = readFileSync(identity, 'utf8').trim().split(' ').map(Number);
        if (supervisor !== pid) continue;
        try {
          process.kill(-agent, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      process.kill(pid, 'SIGKILL');
      await eventually(() => {
        if (alive(pid) && existsSync(`/proc/${pid}`) && procStat(pid)[2] !== 'Z') throw new Error(`supervisor ${pid} still runs`);
      }, 5_000);
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function spoolDir(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'mosaic-supervisor-'));
    dirs.push(dir);
    return dir;
  }

  function start(command: string, options: { maxBytes?: number; timeoutMs?: number; deleteConsumed?: boolean } = {}): Session {
    const dir = spoolDir();
    const key = randomBytes(32);
    const args = [dir, String(options.maxBytes ?? 1 << 20), String(options.timeoutMs ?? 0), '-', '-', command];
    const child = spawnSupervisor(args, key, { cwd: dir });
    supervisors.push(child.pid!);
    const stopLine = (request: string) => `\n${macOf(key, request)} ${request}\n`;
    return {
      child,
      dir,
      spool: new SpoolReader(dir, key, options.deleteConsumed),
      stop(request) {
        appendFileSync(path.join(dir, 'stop'), stopLine(request));
        child.kill('SIGUSR1');
      },
      stopLine,
    };
  }

  function expectGapFree(spool: SpoolReader): void {
    expect(spool.records.map((record) => record.seq)).toEqual(spool.records.map((_, index) => index + 1));
    expect(spool.records.at(-1)?.kind).toBe('X');
  }

  it('spools stdout and stderr lines in order with gap-free seqs and the times they came, then the exit record', async () => {
    const began = Date.now();
    const { spool } = start('echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three; echo; echo four >&2');
    expect((await spool.waitForExit()).body).toBe('0 - -');
    const times = spool.records.map((record) => record.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[0]).toBeGreaterThanOrEqual(began - 5);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(90);
    expect(times.at(-1)).toBeLessThanOrEqual(Date.now());
    expect(spool.records.map((record) => `${record.kind} ${record.body}`)).toEqual(
      expect.arrayContaining(['O one', 'E two', 'O three', 'O ', 'E four', 'X 0 - -']),
    );
    expect(spool.records.slice(0, 3).map((record) => record.body)).toEqual(['one', 'two', 'three']);
    expect(spool.lines('O')).toEqual(['one', 'three', '']);
    expectGapFree(spool);
  });

  it("records the agent's own exit code", async () => {
    const { spool } = start('echo bye; exit 3');
    expect((await spool.waitForExit()).body).toBe('3 - -');
    expect(spool.lines()).toEqual(['bye']);
  });

  it('cuts a line over 64 KiB and keeps a final line without a newline', async () => {
    const { spool } = start("head -c 70000 /dev/zero | tr '\\0' a; echo; head -c 65536 /dev/zero | tr '\\0' b; echo; printf 'last'");
    await spool.waitForExit();
    expect(spool.lines()).toEqual(['a'.repeat(65536), 'b'.repeat(65536), 'last']);
    expectGapFree(spool);
  });

  it('writes an identity file naming itself (pid and start time) and the agent, which leads its group', async () => {
    const { child, dir, spool, stop } = start('echo started; sleep 30');
    await spool.until(() => spool.lines().length === 1);
    const [pid, starttime, agent] = readFileSync(path.join(dir, 'identity'), 'utf8').split(' ');
    expect(readFileSync(path.join(dir, 'identity'), 'utf8')).toMatch(/^\d+ \d+ \d+\n$/);
    expect(Number(pid)).toBe(child.pid);
    expect(starttime).toBe(procStat(child.pid!)[21]);
    expect(Number(procStat(Number(agent))[4])).toBe(Number(agent)); // field 5: its process group
    expect(Number(procStat(Number(agent))[3])).toBe(child.pid); // field 4: its parent
    stop('kill');
    expect((await spool.waitForExit()).body).toBe('- 9 kill');
  });

  it('kills the whole tree on kill, and none of it is alive when the exit record appears', async () => {
    const { dir, spool, stop } = start("sleep 30 & echo $!; sh -c 'sleep 30 & echo $!; sleep 30 & echo $!; echo $$; wait' & echo $!; wait");
    await spool.until(() => spool.lines().length === 5);
    const pids = [...spool.lines().map(Number), Number(readFileSync(path.join(dir, 'identity'), 'utf8').split(' ')[2])];
    for (const pid of pids) expect(alive(pid)).toBe(true);
    stop('kill');
    expect((await spool.waitForExit()).body).toBe('- 9 kill');
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it('ends a cancelled agent that handles TERM as soon as it exits, with its own exit code', async () => {
    const { spool, stop } = start("trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.1; done");
    await spool.until(() => spool.lines().length === 1);
    const started = Date.now();
    stop('cancel 5000');
    expect((await spool.waitForExit()).body).toBe('7 - cancel');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(spool.lines()).toEqual(['ready', 'bye']);
  });

  it('kills a cancelled agent that ignores TERM once the grace is over', async () => {
    const { spool, stop } = start("trap '' TERM; echo ready; sleep 30");
    await spool.until(() => spool.lines().length === 1);
    const started = Date.now();
    stop('cancel 300');
    expect((await spool.waitForExit()).body).toBe('- 9 cancel');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(3_000);
  });

  it("kills at once on a kill during a cancel's grace, keeping cancel as the stop", async () => {
    const { spool, stop } = start("trap '' TERM; echo ready; sleep 30");
    await spool.until(() => spool.lines().length === 1);
    const started = Date.now();
    stop('cancel 20000');
    await sleep(100);
    stop('cancel 20000'); // neither restarts the grace nor matters
    stop('kill');
    expect((await spool.waitForExit()).body).toBe('- 9 cancel');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('acts on every line of the stop file when signals coalesce', async () => {
    const { dir, child, spool, stopLine } = start("trap '' TERM; echo ready; sleep 30");
    await spool.until(() => spool.lines().length === 1);
    appendFileSync(path.join(dir, 'stop'), stopLine('cancel 20000') + stopLine('kill'));
    child.kill('SIGUSR1');
    expect((await spool.waitForExit(3_000)).body).toBe('- 9 cancel');
  });

  it('kills what is left of the group once the leader exits', async () => {
    const { spool } = start('sleep 30 & echo $!; exit 0');
    expect((await spool.waitForExit()).body).toBe('0 - -');
    expect(alive(Number(spool.lines()[0]))).toBe(false);
  });

  it("lets the group finish within a cancel's grace after the leader exited, then kills the rest", async () => {
    const { spool, stop } = start("(trap '' TERM; sleep 30) & echo $!; trap 'exit 5' TERM; wait");
    await spool.until(() => spool.lines().length === 1);
    const started = Date.now();
    stop('cancel 400');
    expect((await spool.waitForExit()).body).toBe('5 - cancel');
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(alive(Number(spool.lines()[0]))).toBe(false);
  });

  it('kills, with the group, the processes that left it (setsid), re-parented to it or not, before the exit record', async () => {
    // One escapes from the agent's shell, which stays its parent; one from a subshell that exits, leaving it an orphan.
    const { dir, spool, stop } = start(
      "setsid sh -c 'echo $$; exec sleep 1001' & (setsid sh -c 'echo $$; exec sleep 1001' &); sleep 0.2; echo ready; sleep 30",
    );
    await spool.until(() => spool.lines().includes('ready') && spool.lines().length === 3);
    const agent = Number(readFileSync(path.join(dir, 'identity'), 'utf8').split(' ')[2]);
    const escaped = spool
      .lines()
      .filter((line) => line !== 'ready')
      .map(Number);
    for (const pid of escaped) {
      expect(alive(pid)).toBe(true);
      expect(Number(procStat(pid)[4])).not.toBe(agent); // field 5: out of the agent's group
    }
    try {
      stop('kill');
      expect((await spool.waitForExit()).body).toBe('- 9 kill');
      for (const pid of escaped) expect(alive(pid)).toBe(false);
    } finally {
      for (const pid of escaped.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  });

  it('kills a process that left the group once the leader exits on its own', async () => {
    const { spool } = start("setsid sh -c 'echo $$; exec sleep 1001' & sleep 0.2; echo done");
    await spool.until(() => spool.lines().length === 2);
    const escaped = Number(spool.lines()[0]);
    try {
      expect((await spool.waitForExit()).body).toBe('0 - -');
      expect(alive(escaped)).toBe(false);
    } finally {
      if (alive(escaped)) process.kill(escaped, 'SIGKILL');
    }
  });

  it('gives the agent no descriptor but 0, 1 and 2, whatever the supervisor inherited', async () => {
    const dir = spoolDir();
    const key = randomBytes(32);
    const child = spawn(binary, [dir, '4096', '0', '-', '-', 'ls /proc/$$/fd'], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore', 'pipe'],
    });
    child.stdin!.end(`${key.toString('hex')}\n`);
    supervisors.push(child.pid!);
    const spool = new SpoolReader(dir, key);
    expect((await spool.waitForExit()).body).toBe('0 - -');
    expect(spool.lines()).toEqual(['0', '1', '2']);
  });

  it('ignores stop requests without the MAC of its key, and still takes the real one after junk', async () => {
    const { child, dir, spool, stop } = start('echo ready; sleep 30');
    await spool.until(() => spool.lines().length === 1);
    const forgedWith = randomBytes(32);
    appendFileSync(path.join(dir, 'stop'), `kill\ncancel 0\n${macOf(forgedWith, 'kill')} kill\n${'0'.repeat(32)} kill\nno newline`);
    child.kill('SIGUSR1');
    await sleep(300);
    spool.poll();
    expect(spool.exit).toBeUndefined();
    stop('cancel 100');
    expect((await spool.waitForExit()).body).toBe('- 15 cancel');
  });

  it('takes a stop request written again after someone cut the stop file short', async () => {
    const { child, dir, spool, stop } = start("trap '' TERM; echo ready; sleep 30");
    await spool.until(() => spool.lines().length === 1);
    stop('cancel 20000');
    await sleep(100);
    truncateSync(path.join(dir, 'stop'), 0);
    child.kill('SIGUSR1');
    stop('kill');
    expect((await spool.waitForExit(3_000)).body).toBe('- 9 cancel');
  });

  it('exits 2 without the key on its stdin', async () => {
    const dir = spoolDir();
    for (const input of ['', 'abc\n', `${'g'.repeat(64)}\n`]) {
      const child = spawn(binary, [dir, '4096', '0', '-', '-', 'true'], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
      const [code] = await once(child, 'exit');
      expect(code).toBe(2);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  (process.getuid?.() === 0 ? it : it.skip)('runs the agent as the given uid and gid, without supplementary groups', async () => {
    const dir = spoolDir();
    const key = randomBytes(32);
    const child = spawnSupervisor([dir, '4096', '0', '65534', '65534', 'id -u; id -g; id -G'], key);
    supervisors.push(child.pid!);
    const spool = new SpoolReader(dir, key);
    expect((await spool.waitForExit()).body).toBe('0 - -');
    expect(spool.lines()).toEqual(['65534', '65534', '65534']);
  });

  it('kills an agent that outlives its time limit', async () => {
    const started = Date.now();
    const { spool } = start('sleep 30', { timeoutMs: 300 });
    expect((await spool.waitForExit()).body).toBe('- 9 timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('kills the agent on its own SIGTERM, naming no stop: any process of its uid may send one', async () => {
    const { child, dir, spool } = start('echo ready; sleep 30');
    await spool.until(() => spool.lines().length === 1);
    const agent = Number(readFileSync(path.join(dir, 'identity'), 'utf8').split(' ')[2]);
    child.kill('SIGTERM');
    expect((await spool.waitForExit()).body).toBe('- 9 -');
    expect(alive(agent)).toBe(false);
    expect(alive(child.pid!)).toBe(true);
  });

  it('lingers after the exit record until SIGUSR2, then exits 0 promptly', async () => {
    const { child, spool } = start('true');
    await spool.waitForExit();
    await sleep(200);
    expect(child.exitCode).toBeNull();
    const exited = once(child, 'exit');
    const signalled = Date.now();
    child.kill('SIGUSR2');
    expect(await exited).toEqual([0, null]);
    expect(Date.now() - signalled).toBeLessThan(1_000);
  });

  it("survives its parent's death and keeps spooling", async () => {
    const dir = spoolDir();
    const key = randomBytes(32);
    const agent = 'for i in 1 2 3 4 5; do echo $i; sleep 0.2; done';
    const quote = (arg: string) => `'${arg.replace(/'/g, "'\\''")}'`;
    // The supervisor announces its identity on stdout too: away from the pipe that carries its pid.
    const command = `echo ${key.toString('hex')} | ${[binary, dir, '1048576', '0', '-', '-', agent].map(quote).join(' ')} >/dev/null & echo $!`;
    const parent = spawn('/bin/sh', ['-c', command], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
    const pid = Number(chunk.toString().trim());
    supervisors.push(pid);
    await once(parent, 'exit');
    const spool = new SpoolReader(dir, key);
    await spool.until(() => spool.lines().length >= 1);
    expect(Number(procStat(pid)[3])).not.toBe(parent.pid);
    expect(Number(procStat(pid)[3])).not.toBe(process.pid);
    expect((await spool.waitForExit()).body).toBe('0 - -');
    expect(spool.lines()).toEqual(['1', '2', '3', '4', '5']);
    process.kill(pid, 'SIGUSR2');
  });

  it('drops the lines that exceed the bound and says how many before the exit record', async () => {
    const { spool } = start('i=0; while [ $i -lt 1000 ]; do echo line$i; i=$((i+1)); done', { maxBytes: 4096 });
    await spool.waitForExit();
    const written = spool.lines();
    const dropped = spool.records.filter((record) => record.kind === 'D');
    expect(dropped).toHaveLength(1);
    expect(spool.records.at(-2)?.kind).toBe('D');
    expect(written.length).toBeGreaterThan(50);
    expect(written.length + Number(dropped[0].body)).toBe(1000);
    expect(written).toEqual(written.map((_, index) => `line${index}`));
    expect(spool.maxLineBytesOnDisk).toBeLessThanOrEqual(4096);
    expect(spool.maxLineBytesOnDisk).toBeGreaterThan(4096 - 64); // less than one record (MAC, seq, time, line) short
    expectGapFree(spool);
  });

  it('rotates segments at 1 MiB and resumes writing as the reader deletes what it has read', async () => {
    // Three bursts of ~1.06 MiB: without the deletions the third would not fit under the 2 MiB bound.
    const { dir, spool } = start('for c in 1 2 3; do yes "$c$(printf \'%0998d\' 0)" | head -n 1050; sleep 1; done', {
      maxBytes: 2 << 20,
      deleteConsumed: true,
    });
    const sizes: number[] = [];
    await spool.until(() => {
      for (const name of readdirSync(dir).filter((entry) => entry.startsWith('spool.'))) {
        try {
          sizes.push(statSync(path.join(dir, name)).size);
        } catch {
          // deleted meanwhile
        }
      }
      return spool.exit !== undefined;
    }, 20_000);
    expect(spool.exit?.body).toBe('0 - -');
    expect(spool.records.some((record) => record.kind === 'D')).toBe(false);
    expect(spool.lines()).toHaveLength(3150);
    expect(
      spool
        .lines()
        .map((line) => line[0])
        .join(''),
    ).toBe('1'.repeat(1050) + '2'.repeat(1050) + '3'.repeat(1050));
    expect(spool.deleted).toBeGreaterThanOrEqual(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1 << 20);
    expect(spool.maxLineBytesOnDisk).toBeLessThanOrEqual(2 << 20);
    expectGapFree(spool);
  });

  it('rejects invalid arguments with exit code 2 and writes nothing', async () => {
    const dir = spoolDir();
    for (const args of [
      [dir, '0', '0', '-', '-', 'true'],
      [dir, '10', 'x', '-', '-', 'true'],
      [dir, '10', '0', '-', '-'],
    ]) {
      const child = spawnSupervisor(args, randomBytes(32), { detached: false });
      const [code] = await once(child, 'exit');
      expect(code).toBe(2);
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});
