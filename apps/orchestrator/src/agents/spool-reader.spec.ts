import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../../../test/support/eventually';
import { spoolMac } from './spool-key';
import { parseRecord, segmentPath, SpoolReader, type SpoolRecord } from './spool-reader';

const KEY = Buffer.alloc(32, 7);

/** Records as the supervisor writes them: each after its MAC, each ending in a newline. */
function sealed(...bodies: string[]): string {
  return bodies.map((body) => `${spoolMac(KEY, body)} ${body}\n`).join('');
}

/** A spool written by hand, record by record, as a supervisor would. */
async function spoolDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'spool-reader-spec-'));
}

function follow(dir: string, after = 0, beforeDelete: () => Promise<void> = () => Promise.resolve()) {
  const records: SpoolRecord[] = [];
  const errors: Error[] = [];
  const rejected: string[] = [];
  const reader = new SpoolReader(dir, after, KEY, {
    onRecord: (record) => records.push(record),
    beforeDelete,
    onError: (error) => errors.push(error),
    onRejected: (raw) => rejected.push(raw.toString('latin1')),
  });
  return { reader, records, errors, rejected };
}

const text = (record: SpoolRecord) =>
  record.type === 'line' ? `${record.seq} ${record.stream} ${record.line.toString('utf8')}` : `${record.seq} ${record.type}`;

describe('parseRecord', () => {
  it.each([
    ['1 1700000000001 O hello world', { seq: 1, time: 1700000000001, type: 'line', stream: 'stdout', line: Buffer.from('hello world') }],
    ['12 1700000000012 E ', { seq: 12, time: 1700000000012, type: 'line', stream: 'stderr', line: Buffer.alloc(0) }],
    ['7 1700000000007 D 250', { seq: 7, time: 1700000000007, type: 'dropped', count: 250 }],
    ['9 1700000000009 X 0 - -', { seq: 9, time: 1700000000009, type: 'exit', exit: { code: 0, signal: null, stop: null } }],
    ['9 1700000000009 X 3 - timeout', { seq: 9, time: 1700000000009, type: 'exit', exit: { code: 3, signal: null, stop: 'timeout' } }],
    ['9 1700000000009 X - 9 kill', { seq: 9, time: 1700000000009, type: 'exit', exit: { code: null, signal: 'SIGKILL', stop: 'kill' } }],
    [
      '9 1700000000009 X - 15 cancel',
      { seq: 9, time: 1700000000009, type: 'exit', exit: { code: null, signal: 'SIGTERM', stop: 'cancel' } },
    ],
  ])('reads %j', (raw, expected) => {
    expect(parseRecord(Buffer.from(raw))).toEqual(expected);
  });

  it.each([
    '',
    'O hello',
    '1 O no time',
    '1 soon O bad time',
    '0 1700000000000 O zero',
    '-1 O minus',
    '1',
    '1 1700000000001 Q what',
    '2 1700000000002 D none',
    '2 1700000000002 D 0',
    '3 1700000000003 X 0 -',
    '3 1700000000003 X zero - -',
  ])('refuses %j', (raw) => {
    expect(parseRecord(Buffer.from(raw))).toBeUndefined();
  });

  it("keeps a line's bytes as they are, invalid UTF-8 included", () => {
    const raw = Buffer.concat([Buffer.from('4 1700000000004 O '), Buffer.from([0xff, 0xfe, 0x20])]);
    expect(parseRecord(raw)).toEqual({
      seq: 4,
      time: 1700000000004,
      type: 'line',
      stream: 'stdout',
      line: Buffer.from([0xff, 0xfe, 0x20]),
    });
  });
});

describe('SpoolReader', () => {
  let dir: string;
  beforeEach(async () => (dir = await spoolDir()));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('hands out records as they are written, a record split between two writes once it is whole', async () => {
    const { reader, records } = follow(dir);
    const spool = sealed('1 1700000000001 O first', '2 1700000000002 E second', '3 1700000000003 O third');
    const cut = spool.indexOf('E sec') + 5;
    await writeFile(segmentPath(dir, 1), spool.slice(0, cut));
    reader.start();
    await reader.read();
    expect(records.map(text)).toEqual(['1 stdout first']);

    await appendFile(segmentPath(dir, 1), spool.slice(cut));
    await reader.read();
    await reader.close();
    expect(records.map(text)).toEqual(['1 stdout first', '2 stderr second', '3 stdout third']);
  });

  it('follows the spool live, without being asked to read', async () => {
    const { reader, records } = follow(dir);
    await writeFile(segmentPath(dir, 1), '');
    reader.start();
    await appendFile(segmentPath(dir, 1), sealed('1 1700000000001 O live'));
    await eventually(() => expect(records).not.toEqual([]), 2_000);
    await reader.close();
    expect(records.map(text)).toEqual(['1 stdout live']);
  });

  it('skips the lines up to `after`, but never the exit, and reads nothing after the exit', async () => {
    await writeFile(
      segmentPath(dir, 1),
      sealed(
        '1 1700000000001 O one',
        '2 1700000000002 O two',
        '3 1700000000003 D 5',
        '4 1700000000004 O four',
        '5 1700000000005 X 0 - -',
        '6 1700000000006 O after the end',
      ),
    );
    const { reader, records } = follow(dir, 4);
    reader.start();
    await reader.read();
    await reader.close();
    expect(records).toEqual([{ seq: 5, time: 1700000000005, type: 'exit', exit: { code: 0, signal: null, stop: null } }]);
    expect(reader.sawExit).toBe(true);
  });

  it('moves to the next segment once it exists, and deletes the finished one only after `beforeDelete`', async () => {
    const seenBeforeDelete: string[][] = [];
    const { reader, records } = follow(dir, 0, async () => {
      seenBeforeDelete.push(await readdir(dir));
    });
    await writeFile(segmentPath(dir, 1), sealed('1 1700000000001 O a', '2 1700000000002 O b'));
    await writeFile(segmentPath(dir, 2), sealed('3 1700000000003 O c'));
    await writeFile(segmentPath(dir, 3), sealed('4 1700000000004 X 0 - -'));
    reader.start();
    await reader.read();
    await reader.close();

    expect(records.map((record) => record.seq)).toEqual([1, 2, 3, 4]);
    expect(seenBeforeDelete).toEqual([
      ['spool.000001', 'spool.000002', 'spool.000003'],
      ['spool.000002', 'spool.000003'],
    ]);
    expect(await readdir(dir)).toEqual(['spool.000003']);
  });

  it('starts at the oldest segment left, when earlier ones were read and deleted by an earlier life', async () => {
    await writeFile(segmentPath(dir, 4), sealed('40 1700000000040 O forty', '41 1700000000041 O forty-one'));
    const { reader, records } = follow(dir, 40);
    reader.start();
    await reader.read();
    await reader.close();
    expect(records.map(text)).toEqual(['41 stdout forty-one']);
  });

  it('reports an unreadable record and goes on with the next', async () => {
    await writeFile(segmentPath(dir, 1), sealed('1 1700000000001 O fine', 'garbage', '3 1700000000003 O fine again'));
    const { reader, records, errors } = follow(dir);
    reader.start();
    await reader.read();
    await reader.close();
    expect(records.map(text)).toEqual(['1 stdout fine', '3 stdout fine again']);
    expect(errors.map((error) => error.message)).toEqual([expect.stringContaining('unreadable spool record')]);
  });

  it("drops records without the session's MAC, and copies of records already read", async () => {
    const otherKey = Buffer.alloc(32, 8);
    const forged = (body: string) => `${spoolMac(otherKey, body)} ${body}\n`;
    const usage = '2 1700000000002 O {"type":"usage","data":{"cost_usd":2}}';
    await writeFile(
      segmentPath(dir, 1),
      sealed('1 1700000000001 O real') +
        `${usage}\n` +
        forged(usage) +
        `${'0'.repeat(32)} ${usage}\n` +
        sealed('2 1700000000002 O real too', '1 1700000000001 O real', '3 1700000000003 X 0 - -'),
    );
    const { reader, records, errors, rejected } = follow(dir);
    reader.start();
    await reader.read();
    await reader.close();
    expect(records.map(text)).toEqual(['1 stdout real', '2 stdout real too', '3 exit']);
    expect(rejected).toHaveLength(4);
    expect(rejected[3]).toContain('1 1700000000001 O real');
    expect(errors).toEqual([]);
  });

  it('hands out nothing more once closed', async () => {
    await writeFile(segmentPath(dir, 1), sealed('1 1700000000001 O one'));
    const { reader, records } = follow(dir);
    reader.start();
    await reader.read();
    await reader.close();
    await appendFile(segmentPath(dir, 1), sealed('2 1700000000002 O two'));
    await reader.read();
    await sleep(50);
    expect(records.map(text)).toEqual(['1 stdout one']);
  });
});
