import { hashSecret } from '@mosaic/http-kit';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { LIMITS, type CallbackAck, type CallbackEvent, type TerminalStatus } from '@mosaic/orchestrator-contract';
import { TestApi } from '../../../../test/support/api-app';
import { capturePrintedOutput } from '../../../../test/support/printed-output';
import { type SeededSession, seedServicesOf, seedSession } from '../../../../test/support/seed';
import { PrismaService } from '../database/prisma.service';
import { CallbackTokenService } from '../sessions/callback-token.service';
import { SessionEventRepository } from '../sessions/session-event.repository';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import { CallbackRepository, MAX_RECORDING_BATCHES } from './callback.repository';

const TTL_MS = 60 * 60 * 1000;
const GRACE_MS = 30 * 60 * 1000;
const UNAUTHORIZED = { error: { code: 'unauthorized', message: 'invalid callback token' } };

type TestSession = SeededSession;

describe('POST /orchestrator/callbacks/:sessionId', () => {
  let api: TestApi;
  let prisma: PrismaService;
  let sessions: OrchestratorSessionRepository;
  let callbacks: CallbackRepository;
  let tokens: CallbackTokenService;
  let events: SessionEventRepository;
  const storedEvents = async (sessionId: string) => (await events.page(sessionId, 0, 1_000)).events;
  // Everything the process prints while this file runs, for the redaction test.
  let printed: ReturnType<typeof capturePrintedOutput>;

  beforeAll(async () => {
    printed = capturePrintedOutput();
    api = await TestApi.start(
      { CALLBACK_TOKEN_TTL_MS: String(TTL_MS), CALLBACK_TOKEN_TERMINAL_GRACE_MS: String(GRACE_MS) },
      // Logging on: the redaction test reads what the process prints.
      {},
    );
    prisma = api.get(PrismaService);
    sessions = api.get(OrchestratorSessionRepository);
    callbacks = api.get(CallbackRepository);
    tokens = api.get(CallbackTokenService);
    events = api.get(SessionEventRepository);
  });

  afterAll(async () => {
    await api?.close();
    printed?.restore();
  });

  function newSession(options: { orchestratorSessionId?: null; issuedAt?: Date } = {}): Promise<TestSession> {
    return seedSession(seedServicesOf(api), {
      title: 'callback test',
      status: options.orchestratorSessionId === null ? 'spawning' : 'pending',
      ...(options.issuedAt === undefined ? {} : { issuedAt: options.issuedAt }),
    });
  }

  function post(sessionId: string, body: unknown, headers: Record<string, string>) {
    return api.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'POST', url: `/orchestrator/callbacks/${sessionId}`, headers, payload: body as object });
  }

  function send(session: TestSession, body: unknown, token = session.token) {
    return post(session.id, body, { authorization: `Bearer ${token}` });
  }

  // Events happened a little while ago, each after the one created before it.
  let clock = Date.now() - 5 * 60 * 1000;
  function event(session: TestSession, sequence: number, fields: Partial<CallbackEvent> = {}): CallbackEvent {
    clock += 1;
    return {
      event_id: randomUUID(),
      session_id: session.orchestratorSessionId ?? 'orch-unknown',
      sequence,
      type: 'progress',
      timestamp: new Date(clock).toISOString(),
      data: { message: `step ${sequence}` },
      ...fields,
    } as CallbackEvent;
  }

  const statusEvent = (session: TestSession, sequence: number, status: CallbackEvent['status']) =>
    event(session, sequence, { type: 'status', status, data: {} });
  const resultEvent = (session: TestSession, sequence: number, status: TerminalStatus, data: Record<string, unknown> = {}) =>
    event(session, sequence, { type: 'result', status, data } as Partial<CallbackEvent>);

  const sessionRow = (id: string) => prisma.orchestratorSession.findUniqueOrThrow({ where: { id } });
  const taskStatus = async (id: string) => (await prisma.task.findUniqueOrThrow({ where: { id } })).status;
  const storedEventIds = async (id: string) =>
    (await prisma.orchestratorSessionEvent.findMany({ where: { sessionId: id }, orderBy: { id: 'asc' } })).map((row) => row.eventId);

  describe('a valid callback', () => {
    it('is stored and answered 202, advancing the session sequence', async () => {
      const session = await newSession();
      const progress = event(session, 1);

      const response = await send(session, progress);

      expect(response.statusCode).toBe(202);
      expect(response.json()).toEqual({ accepted: true, duplicate: false } satisfies CallbackAck);
      const row = await sessionRow(session.id);
      expect(row.lastSequence).toBe(1);
      expect(row.lastEventAt).toBeInstanceOf(Date);
      expect(row.status).toBe('pending');
      expect(await storedEvents(session.id)).toEqual([
        {
          event_id: progress.event_id,
          sequence: 1,
          type: 'progress',
          status: null,
          timestamp: progress.timestamp,
          data: { message: 'step 1' },
          received_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        },
      ]);
    });

    it('moves the session and its task through running to the terminal status the result reports', async () => {
      const session = await newSession();
      const running = statusEvent(session, 1, 'running');
      const result = resultEvent(session, 2, 'failed', { exit_code: 3, error: 'agent crashed', summary: 'no luck' });

      expect((await send(session, running)).statusCode).toBe(202);
      expect((await sessionRow(session.id)).status).toBe('running');
      expect(await taskStatus(session.taskId)).toBe('running');

      expect((await send(session, result)).statusCode).toBe(202);
      const row = await sessionRow(session.id);
      expect(row).toMatchObject({
        status: 'failed',
        exitCode: 3,
        error: 'agent crashed',
        lastSequence: 2,
        activeTaskId: null,
        startedAt: new Date(running.timestamp),
        endedAt: new Date(result.timestamp),
      });
      expect(await taskStatus(session.taskId)).toBe('failed');
    });

    it('records the node a running status event names, and forgets the place in the queue', async () => {
      const session = await newSession();
      await prisma.orchestratorSession.update({ where: { id: session.id }, data: { queuePosition: 4 } });

      expect(
        (await send(session, event(session, 1, { type: 'status', status: 'running', data: { node: 'node-a:3100' } }))).statusCode,
      ).toBe(202);
      expect(await sessionRow(session.id)).toMatchObject({ status: 'running', node: 'node-a:3100', queuePosition: null });

      // A later event without a node keeps it; a cancelled result ends the session and its task.
      expect((await send(session, resultEvent(session, 2, 'cancelled'))).statusCode).toBe(202);
      expect(await sessionRow(session.id)).toMatchObject({ status: 'cancelled', node: 'node-a:3100', activeTaskId: null });
      expect(await taskStatus(session.taskId)).toBe('cancelled');
    });

    it('takes exit code and error from a terminal status event too', async () => {
      const session = await newSession();

      await send(session, event(session, 1, { type: 'status', status: 'completed', data: { exit_code: 0 } }));

      expect(await sessionRow(session.id)).toMatchObject({ status: 'completed', exitCode: 0, error: null });
      expect(await taskStatus(session.taskId)).toBe('completed');
    });

    it('never dates a status change later than its arrival, so a fast orchestrator clock cannot extend the token', async () => {
      const session = await newSession();
      const before = Date.now();
      const future = new Date(before + 60 * 60 * 1000).toISOString();

      await send(session, event(session, 1, { type: 'status', status: 'completed', timestamp: future, data: {} }));

      const endedAt = (await sessionRow(session.id)).endedAt?.getTime();
      expect(endedAt).toBeGreaterThanOrEqual(before - 1);
      expect(endedAt).toBeLessThanOrEqual(Date.now());
    });

    it('records the orchestrator session id from the event when the spawn answer never arrived', async () => {
      const session = await newSession({ orchestratorSessionId: null });
      const withId = { ...session, orchestratorSessionId: `orch-${randomUUID()}` };

      const response = await send(withId, statusEvent(withId, 1, 'running'));

      expect(response.statusCode).toBe(202);
      expect(await sessionRow(session.id)).toMatchObject({ orchestratorSessionId: withId.orchestratorSessionId, status: 'running' });
      expect(await taskStatus(session.taskId)).toBe('running');
    });
  });

  describe('refuses with one and the same 401', () => {
    const refusals: [string, (mine: TestSession, other: TestSession) => Promise<{ sessionId: string; headers: Record<string, string> }>][] =
      [
        ['no Authorization header', async (mine) => ({ sessionId: mine.id, headers: {} })],
        ['a header of another scheme', async (mine) => ({ sessionId: mine.id, headers: { authorization: `Basic ${mine.token}` } })],
        ['a malformed header', async (mine) => ({ sessionId: mine.id, headers: { authorization: `Bearer ${mine.token} extra` } })],
        ['an empty bearer token', async (mine) => ({ sessionId: mine.id, headers: { authorization: 'Bearer ' } })],
        ['a wrong token', async (mine) => ({ sessionId: mine.id, headers: { authorization: `Bearer ${tokens.issue().token}` } })],
        [
          'the token of another session',
          async (mine, other) => ({ sessionId: mine.id, headers: { authorization: `Bearer ${other.token}` } }),
        ],
        [
          'a session that does not exist',
          async (mine) => ({ sessionId: randomUUID(), headers: { authorization: `Bearer ${mine.token}` } }),
        ],
        [
          'a session id that is not a uuid',
          async (mine) => ({ sessionId: 'not-a-uuid', headers: { authorization: `Bearer ${mine.token}` } }),
        ],
        [
          'an expired token',
          async () => {
            const expired = await newSession({ issuedAt: new Date(Date.now() - TTL_MS - 1000) });
            return { sessionId: expired.id, headers: { authorization: `Bearer ${expired.token}` } };
          },
        ],
        [
          'a token revoked after the terminal grace period',
          async (mine) => {
            await sessions.applyStatus(mine.id, { status: 'completed', at: new Date(Date.now() - GRACE_MS - 1000) });
            return { sessionId: mine.id, headers: { authorization: `Bearer ${mine.token}` } };
          },
        ],
      ];

    it.each(refusals)('for %s, storing nothing', async (_case, request) => {
      const mine = await newSession();
      const other = await newSession();
      const { sessionId, headers } = await request(mine, other);
      const before = await sessionRow(mine.id);

      const response = await post(sessionId, event(mine, 1), headers);

      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(UNAUTHORIZED);
      expect(await storedEventIds(mine.id)).toEqual([]);
      expect(await sessionRow(mine.id)).toEqual(before);
    });

    it('before it looks at the body', async () => {
      const session = await newSession();

      const response = await send(session, { nonsense: true }, tokens.issue().token);

      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual(UNAUTHORIZED);
    });
  });

  it('still accepts the token within the grace period after a terminal status', async () => {
    const session = await newSession();
    await sessions.applyStatus(session.id, { status: 'completed', at: new Date(Date.now() - GRACE_MS + 30_000) });

    const response = await send(session, event(session, 5));

    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: true, duplicate: false } satisfies CallbackAck);
  });

  describe('refuses an invalid body with 400 naming the field', () => {
    const cases: [string, (session: TestSession) => unknown, RegExp][] = [
      ['a missing field', (session) => ({ ...event(session, 1), sequence: undefined }), /sequence/],
      ['an unknown field', (session) => ({ ...event(session, 1), extra: 1 }), /extra: unknown field/],
      [
        'an unknown field in data',
        (session) => event(session, 1, { data: { message: 'x', colour: 'red' } } as Partial<CallbackEvent>),
        /data\.colour: unknown field/,
      ],
      ['a status event without status', (session) => ({ ...statusEvent(session, 1, 'running'), status: undefined }), /status/],
      ['an unknown type', (session) => ({ ...event(session, 1), type: 'gossip' }), /type/],
      ['a sequence below 1', (session) => event(session, 0), /sequence/],
      ['a timestamp that is not ISO-8601 UTC', (session) => ({ ...event(session, 1), timestamp: 'yesterday' }), /timestamp/],
      ['a body that is not an object', () => [1, 2, 3], /body/],
    ];

    it.each(cases)('for %s', async (_case, body, field) => {
      const session = await newSession();

      const response = await send(session, body(session));

      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: { code: 'bad_request', message: expect.stringMatching(field) } });
      expect(await storedEventIds(session.id)).toEqual([]);
    });

    it('for unparsable JSON', async () => {
      const session = await newSession();

      const response = await post(session.id, '{"event_id":', {
        authorization: `Bearer ${session.token}`,
        'content-type': 'application/json',
      });

      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
    });

    it('for a session_id other than the session’s orchestrator session, storing nothing', async () => {
      const session = await newSession();

      const response = await send(session, { ...event(session, 1), session_id: 'orch-someone-else' });

      expect(response.statusCode).toBe(400);
      expect(response.json().error.message).toMatch(/^session_id: /);
      expect(await storedEventIds(session.id)).toEqual([]);
    });

    it('for a session_id that another session already has, recording nothing', async () => {
      const owner = await newSession();
      const unconfirmed = await newSession({ orchestratorSessionId: null });

      const response = await send(unconfirmed, event({ ...unconfirmed, orchestratorSessionId: owner.orchestratorSessionId }, 1));

      expect(response.statusCode).toBe(400);
      expect(response.json().error.message).toMatch(/^session_id: /);
      expect(await storedEventIds(unconfirmed.id)).toEqual([]);
      expect((await sessionRow(unconfirmed.id)).orchestratorSessionId).toBeNull();
    });
  });

  describe('a callback with values PostgreSQL cannot store', () => {
    // Each would break the statement that stores it: a NUL, an unpaired surrogate, an exit code beyond `int`.
    const unstorable: [string, (session: TestSession) => CallbackEvent, RegExp][] = [
      [
        'a NUL in a log line',
        (session) => event(session, 1, { type: 'log', data: { stream: 'stdout', line: 'a\u0000b' } }),
        /^data\.line: contains a NUL/,
      ],
      [
        'an unpaired surrogate in a log line',
        (session) => event(session, 1, { type: 'log', data: { stream: 'stderr', line: 'x\uD800' } }),
        /^data\.line: is not well-formed/,
      ],
      ['a NUL in a progress message', (session) => event(session, 1, { data: { message: '\u0000' } }), /^data\.message: contains a NUL/],
      ['a NUL in the event id', (session) => event(session, 1, { event_id: `${randomUUID()}\u0000` }), /^event_id: contains a NUL/],
      [
        'an unpaired surrogate in the session id',
        (session) => event(session, 1, { session_id: `${session.orchestratorSessionId}\uDC00` }),
        /^session_id: is not well-formed/,
      ],
      [
        'a NUL in a result summary',
        (session) => resultEvent(session, 1, 'completed', { summary: 'done\u0000' }),
        /^data\.summary: contains a NUL/,
      ],
      [
        'an unpaired surrogate in a result error',
        (session) => resultEvent(session, 1, 'failed', { error: '\uDBFF!' }),
        /^data\.error: is not well-formed/,
      ],
      [
        'a NUL in a status error',
        (session) => event(session, 1, { type: 'status', status: 'failed', data: { error: 'x\u0000' } }),
        /^data\.error: contains a NUL/,
      ],
      ['an exit code of 2^32', (session) => resultEvent(session, 1, 'failed', { exit_code: 4_294_967_296 }), /^data\.exit_code: /],
      [
        'an exit code below int32',
        (session) => event(session, 1, { type: 'status', status: 'failed', data: { exit_code: -2_147_483_649 } }),
        /^data\.exit_code: /,
      ],
    ];

    it.each(unstorable)('is refused with 400 naming the field when its token is valid: %s', async (_case, body, field) => {
      const session = await newSession();
      const before = await sessionRow(session.id);

      const response = await send(session, body(session));

      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: { code: 'bad_request', message: expect.stringMatching(field) } });
      expect(await storedEventIds(session.id)).toEqual([]);
      expect(await sessionRow(session.id)).toEqual(before);
    });

    it('is refused with the uniform 401 without a valid token, and no statement shared with other callbacks fails', async () => {
      const [target, ...others] = await Promise.all(Array.from({ length: 4 }, () => newSession()));
      const run = jest.spyOn(prisma, 'queryPg');

      let responses: Awaited<ReturnType<typeof send>>[];
      let statements: PromiseSettledResult<unknown>[];
      try {
        // Sent together with valid callbacks of other sessions, so that they would share a recording statement.
        responses = await Promise.all([
          ...unstorable.map(([, body]) => send(target!, body(target!), tokens.issue().token)),
          ...others.map((other) => send(other, event(other, 1))),
        ]);
        statements = await Promise.allSettled(run.mock.results.map((result) => result.value as Promise<unknown>));
      } finally {
        run.mockRestore();
      }

      expect(responses.slice(0, unstorable.length).map((response) => [response.statusCode, response.json()])).toEqual(
        unstorable.map(() => [401, UNAUTHORIZED]),
      );
      expect(responses.slice(unstorable.length).map((response) => response.statusCode)).toEqual(others.map(() => 202));
      expect(statements.filter((statement) => statement.status === 'rejected')).toEqual([]);
      expect(await storedEventIds(target!.id)).toEqual([]);
      for (const other of others) expect(await storedEventIds(other.id)).toHaveLength(1);
    });
  });

  it('refuses a body over 64 KiB with 413', async () => {
    const session = await newSession();
    const body = event(session, 1, { type: 'log', data: { stream: 'stdout', line: 'x'.repeat(LIMITS.callbackBodyMaxBytes) } });

    const response = await send(session, body);

    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({ error: { code: 'payload_too_large', message: expect.any(String) } });
    expect(await storedEventIds(session.id)).toEqual([]);
  });

  it('accepts a body just under 64 KiB (the limit is the contract’s, not the default)', async () => {
    const session = await newSession();
    // Many lines' worth of progress messages is still one valid event as long as each field is within its limit.
    const body = event(session, 1, { type: 'log', data: { stream: 'stderr', line: 'y'.repeat(16 * 1024) } });

    const response = await send(session, body);

    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(LIMITS.callbackBodyMaxBytes);
    expect(response.statusCode).toBe(202);
  });

  describe('a redelivered event', () => {
    it('is answered 202 as a duplicate, stored once and changes nothing', async () => {
      const session = await newSession();
      const running = statusEvent(session, 1, 'running');
      await send(session, running);
      const before = await sessionRow(session.id);

      // A redelivery reuses the id; even with a different body it is the same event.
      const response = await send(session, { ...running, sequence: 7, status: 'completed' });

      expect(response.statusCode).toBe(202);
      expect(response.json()).toEqual({ accepted: true, duplicate: true } satisfies CallbackAck);
      expect(await storedEventIds(session.id)).toEqual([running.event_id]);
      expect(await sessionRow(session.id)).toEqual(before);
    });

    it('is stored once when its deliveries race', async () => {
      const session = await newSession();
      const result = resultEvent(session, 1, 'completed', { exit_code: 0 });

      const responses = await Promise.all(Array.from({ length: 8 }, () => send(session, result)));

      expect(responses.map((response) => response.statusCode)).toEqual(Array(8).fill(202));
      expect(responses.filter((response) => response.json().duplicate === false)).toHaveLength(1);
      expect(await storedEventIds(session.id)).toEqual([result.event_id]);
      expect(await sessionRow(session.id)).toMatchObject({ status: 'completed', lastSequence: 1 });
    });
  });

  it('keeps an event that arrives after a terminal status without changing the status', async () => {
    const session = await newSession();
    const result = resultEvent(session, 2, 'killed');
    await send(session, result);
    const ended = await sessionRow(session.id);

    const late = statusEvent(session, 1, 'running');
    const lateLog = event(session, 3, { type: 'log', data: { stream: 'stdout', line: 'bye' } });
    const responses = [await send(session, late), await send(session, lateLog)];

    expect(responses.map((response) => [response.statusCode, response.json()])).toEqual([
      [202, { accepted: true, duplicate: false }],
      [202, { accepted: true, duplicate: false }],
    ]);
    expect(await sessionRow(session.id)).toMatchObject({ status: 'killed', endedAt: ended.endedAt, startedAt: null, lastSequence: 3 });
    expect(await taskStatus(session.taskId)).toBe('killed');
    expect((await storedEvents(session.id)).map((stored) => stored.sequence)).toEqual([1, 2, 3]);
  });

  it('lists events in sequence order whatever the order they arrived in', async () => {
    const session = await newSession();
    const sent = [event(session, 3), statusEvent(session, 1, 'running'), event(session, 2)];
    for (const body of sent) await send(session, body);

    expect((await storedEvents(session.id)).map((stored) => stored.event_id)).toEqual([
      sent[1]?.event_id,
      sent[2]?.event_id,
      sent[0]?.event_id,
    ]);
  });

  it('ends in the same state whatever order the events arrive in, redeliveries included', async () => {
    // A session's events: running, then progress and log events, then the terminal
    // status (as a `status` or a `result` event). Each is delivered once, and the
    // odd-numbered ones a second time, in an order fast-check picks.
    const scenario = fc
      .record({
        progress: fc.integer({ min: 0, max: 3 }),
        logs: fc.integer({ min: 0, max: 3 }),
        terminal: fc.constantFrom<TerminalStatus>('completed', 'failed', 'killed'),
        terminalAs: fc.constantFrom<'status' | 'result'>('status', 'result'),
        exitCode: fc.integer({ min: 0, max: 255 }),
      })
      .chain((shape) => {
        const count = 2 + shape.progress + shape.logs;
        const deliveries = [...Array(count).keys(), ...[...Array(count).keys()].filter((index) => index % 2 === 0)];
        return fc
          .shuffledSubarray(deliveries, { minLength: deliveries.length, maxLength: deliveries.length })
          .map((order) => ({ ...shape, order }));
      });

    await fc.assert(
      fc.asyncProperty(scenario, async (given) => {
        const session = await newSession();
        const sequence: CallbackEvent[] = [statusEvent(session, 1, 'running')];
        for (let i = 0; i < given.progress; i += 1) sequence.push(event(session, sequence.length + 1));
        for (let i = 0; i < given.logs; i += 1) {
          sequence.push(event(session, sequence.length + 1, { type: 'log', data: { stream: 'stdout', line: `line ${i}` } }));
        }
        const terminal =
          given.terminalAs === 'result'
            ? resultEvent(session, sequence.length + 1, given.terminal, { exit_code: given.exitCode })
            : event(session, sequence.length + 1, { type: 'status', status: given.terminal, data: { exit_code: given.exitCode } });
        sequence.push(terminal);

        for (const index of given.order) expect((await send(session, sequence[index])).statusCode).toBe(202);

        expect(await sessionRow(session.id)).toMatchObject({
          status: given.terminal,
          exitCode: given.exitCode,
          lastSequence: sequence.length,
          endedAt: new Date(terminal.timestamp),
          activeTaskId: null,
        });
        expect(await taskStatus(session.taskId)).toBe(given.terminal);
        expect((await storedEventIds(session.id)).sort()).toEqual(sequence.map((sent) => sent.event_id).sort());
        expect((await storedEvents(session.id)).map((stored) => stored.event_id)).toEqual(sequence.map((sent) => sent.event_id));
      }),
      { numRuns: 25 },
    );
  });

  describe('callbacks that arrive together', () => {
    /** The batches the recording statement ran, as the session ids each held. */
    function recordingBatches(run: jest.SpyInstance): string[][] {
      return run.mock.calls
        .filter(([statement]) => (statement as { text: string }).text.includes('INSERT INTO orchestrator_session_events'))
        .map(([, values]) => (values as unknown[][])[1] as string[]);
    }

    it('are stored by shared statements, each answered and applied as if it had come alone', async () => {
      const fillers = await Promise.all(Array.from({ length: 4 }, () => newSession()));
      const [starting, redelivering, foreign, wrongToken, finishing, chatty] = await Promise.all(
        Array.from({ length: 6 }, () => newSession()),
      );
      const stored = event(redelivering!, 1);
      await send(redelivering!, stored);
      const chattyEvents = [event(chatty!, 1), event(chatty!, 2)];
      const run = jest.spyOn(prisma, 'queryPg');

      try {
        const responses = await Promise.all([
          ...fillers.map((filler) => send(filler, event(filler, 1))),
          send(starting!, statusEvent(starting!, 1, 'running')),
          send(redelivering!, stored),
          send(foreign!, { ...event(foreign!, 1), session_id: 'orch-someone-else' }),
          send(wrongToken!, event(wrongToken!, 1), finishing!.token),
          send(finishing!, resultEvent(finishing!, 1, 'completed', { exit_code: 0 })),
          ...chattyEvents.map((sent) => send(chatty!, sent)),
        ]);

        expect(responses.slice(fillers.length).map((response) => [response.statusCode, response.json()])).toEqual([
          [202, { accepted: true, duplicate: false }],
          [202, { accepted: true, duplicate: true }],
          [400, { error: { code: 'bad_request', message: expect.stringContaining('session_id') } }],
          [401, UNAUTHORIZED],
          [202, { accepted: true, duplicate: false }],
          [202, { accepted: true, duplicate: false }],
          [202, { accepted: true, duplicate: false }],
        ]);
        expect(recordingBatches(run).some((sessionIds) => sessionIds.length > 1)).toBe(true);
      } finally {
        run.mockRestore();
      }
      expect(await sessionRow(starting!.id)).toMatchObject({ status: 'running', lastSequence: 1 });
      expect(await taskStatus(starting!.taskId)).toBe('running');
      expect(await storedEventIds(redelivering!.id)).toEqual([stored.event_id]);
      expect(await storedEventIds(foreign!.id)).toEqual([]);
      expect(await storedEventIds(wrongToken!.id)).toEqual([]);
      expect(await sessionRow(finishing!.id)).toMatchObject({ status: 'completed', exitCode: 0, activeTaskId: null });
      expect(await taskStatus(finishing!.taskId)).toBe('completed');
      expect((await storedEventIds(chatty!.id)).sort()).toEqual(chattyEvents.map((sent) => sent.event_id).sort());
      expect(await sessionRow(chatty!.id)).toMatchObject({ lastSequence: 2 });
    });

    it('store the others when one of them makes the shared statement fail', async () => {
      // Two sessions whose spawn answers never came both claim one orchestrator session: in one statement,
      // the second claim breaks its unique index, and with it the whole statement.
      const fillers = await Promise.all(Array.from({ length: MAX_RECORDING_BATCHES }, () => newSession()));
      const [first, second, bystander] = await Promise.all([
        newSession({ orchestratorSessionId: null }),
        newSession({ orchestratorSessionId: null }),
        newSession(),
      ]);
      const claimed = `orch-${randomUUID()}`;
      const record = (session: TestSession, orchestratorSessionId: string) =>
        callbacks.record({
          credentials: { sessionId: session.id, tokenHash: hashSecret(session.token), signed: false },
          validity: tokens.validityAt(),
          event: {
            eventId: randomUUID(),
            orchestratorSessionId,
            sequence: 1,
            type: 'progress',
            status: null,
            occurredAt: new Date().toISOString(),
            data: {},
          },
          report: undefined,
        });
      const run = jest.spyOn(prisma, 'queryPg');

      let outcomes: string[];
      try {
        // Submitted in one go: the fillers take every statement slot, and the rest wait and go together.
        const recorded = await Promise.all([
          ...fillers.map((filler) => record(filler, filler.orchestratorSessionId!)),
          record(first!, claimed),
          record(second!, claimed),
          record(bystander!, bystander!.orchestratorSessionId!),
        ]);
        outcomes = recorded.map((result) => result.outcome);
        expect(recordingBatches(run)).toContainEqual([first!.id, second!.id, bystander!.id]);
      } finally {
        run.mockRestore();
      }

      expect(outcomes).toEqual([...fillers.map(() => 'stored'), 'stored', 'foreign', 'stored']);
      expect(await sessionRow(first!.id)).toMatchObject({ orchestratorSessionId: claimed, lastSequence: 1 });
      expect(await sessionRow(second!.id)).toMatchObject({ orchestratorSessionId: null, lastSequence: 0 });
      expect(await storedEventIds(second!.id)).toEqual([]);
      expect(await storedEventIds(bystander!.id)).toHaveLength(1);
    });
  });

  it('never prints a callback token, whatever the request', async () => {
    const good = await newSession();
    const other = await newSession();
    const attempts = [
      send(good, event(good, 1)),
      send(good, statusEvent(good, 2, 'running')),
      send(good, { ...event(good, 3), extra: good.token }),
      send(good, event(good, 4), other.token),
      post(randomUUID(), event(good, 5), { authorization: `Bearer ${good.token}` }),
      post(good.id, event(good, 6), { authorization: `Token ${good.token}` }),
      send(good, event(good, 7, { type: 'log', data: { stream: 'stdout', line: 'x'.repeat(LIMITS.callbackBodyMaxBytes) } })),
    ];
    const statuses = (await Promise.all(attempts)).map((response) => response.statusCode);

    expect(statuses).toEqual([202, 202, 400, 401, 401, 401, 413]);
    const output = printed.text();
    // Proves the capture works: Nest logs its routes at start-up.
    expect(output).toContain('/orchestrator/callbacks/:sessionId');
    for (const token of [good.token, other.token]) {
      expect(output).not.toContain(token);
      expect(output).not.toContain(token.slice(4));
    }
  });
});
