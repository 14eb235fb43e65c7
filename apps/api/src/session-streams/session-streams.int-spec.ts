import type { Server } from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { OPERATOR_TOKEN, TestApi, type TestAnswer } from '../../../../test/support/api-app';
import { sampleValue } from '../../../../test/support/metrics-text';
import { type SeededSession, progressEvent, seedServicesOf, seedSession } from '../../../../test/support/seed';
import { type SseConnection, openSse } from '../../../../test/support/sse-client';
import { ADMIN } from '../auth/operator';
import { SessionEventRepository } from '../sessions/session-event.repository';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import { TERMINAL_REPORT_WAIT_MS } from './session-event-streams';

interface EventPage {
  events: { sequence: number }[];
  next_after_sequence: number | null;
}

const AUTH = { authorization: `Bearer ${OPERATOR_TOKEN}` };
const BUFFER_LIMIT = 64 * 1024;

describe('live event streams', () => {
  let api: TestApi;
  let url: string;

  beforeAll(async () => {
    api = await TestApi.start({ STREAM_HEARTBEAT_MS: '300', STREAM_MAX_BUFFERED_BYTES: String(BUFFER_LIMIT) });
    url = await api.listen();
  });

  afterAll(async () => {
    await api?.close();
  });

  const open: SseConnection[] = [];
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });

  async function stream(path: string, headers: Record<string, string> = AUTH): Promise<SseConnection> {
    const connection = await openSse(`${url}${path}`, headers);
    open.push(connection);
    return connection;
  }

  const newSession = (target: TestApi = api) => seedSession(seedServicesOf(target), { title: 'stream test', status: 'running' });

  async function deliver(session: SeededSession, event: CallbackEvent, target: TestApi = api): Promise<void> {
    const answer = await target.app
      .getHttpAdapter()
      .getInstance()
      .inject({
        method: 'POST',
        url: `/orchestrator/callbacks/${session.id}`,
        headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
        payload: JSON.stringify(event),
      });
    expect(answer.statusCode).toBe(202);
  }

  const progress = (session: SeededSession, sequence: number) => progressEvent(session, sequence);
  const result = (session: SeededSession, sequence: number) =>
    progressEvent(session, sequence, { type: 'result', status: 'completed', data: { exit_code: 0, summary: 'done' } });
  const sequences = (connection: SseConnection) => connection.events.map((event) => Number(event.id));

  describe('GET /orchestrator/sessions/:id/events (paging)', () => {
    it('pages through every event once, in sequence order, and ends with null', async () => {
      const session = await newSession();
      for (let sequence = 1; sequence <= 23; sequence += 1) await deliver(session, progress(session, sequence));
      const seen: number[] = [];
      let after: number | null = 0;
      let pages = 0;
      while (after !== null) {
        const page: TestAnswer<EventPage> = await api.request<EventPage>(
          'GET',
          `/orchestrator/sessions/${session.id}/events?after_sequence=${after}&limit=7`,
        );
        expect(page.status).toBe(200);
        expect(page.body.events.length).toBeLessThanOrEqual(7);
        seen.push(...page.body.events.map((event) => event.sequence));
        after = page.body.next_after_sequence;
        pages += 1;
      }
      expect(seen).toEqual(Array.from({ length: 23 }, (_, index) => index + 1));
      expect(pages).toBe(4);
    });

    it("never splits the events of one sequence (an operator's audit record shares its sequence) across pages", async () => {
      const session = await newSession();
      await deliver(session, progress(session, 1));
      // A kill's audit record takes the sequence of the last callback: two events of sequence 1.
      await api.get(OrchestratorSessionRepository).applyStatus(session.id, { status: 'killed', at: new Date() }, { actor: ADMIN });
      await deliver(session, progress(session, 2));
      const first = await api.request<EventPage>('GET', `/orchestrator/sessions/${session.id}/events?limit=2`);
      expect(first.body.events.map((event) => event.sequence)).toEqual([1, 1]);
      expect(first.body.next_after_sequence).toBe(1);
      const one = await api.request<EventPage>('GET', `/orchestrator/sessions/${session.id}/events?limit=1`);
      expect(one.body.events.map((event) => event.sequence)).toEqual([1, 1]);
      const rest = await api.request<EventPage>('GET', `/orchestrator/sessions/${session.id}/events?after_sequence=1`);
      expect(rest.body).toEqual({ events: [expect.objectContaining({ sequence: 2 })], next_after_sequence: null });
    });

    it('keeps the session object to the last 200 events and says so', async () => {
      const session = await newSession();
      await Promise.all(Array.from({ length: 205 }, (_, index) => deliver(session, progress(session, index + 1))));
      const answer = await api.request<{ events: { sequence: number }[]; events_truncated: boolean; task_title: string }>(
        'GET',
        `/orchestrator/sessions/${session.id}`,
      );
      expect(answer.body.events).toHaveLength(200);
      expect(answer.body.events[0].sequence).toBe(6);
      expect(answer.body.events.at(-1)?.sequence).toBe(205);
      expect(answer.body.events_truncated).toBe(true);
      expect(answer.body.task_title).toBe('stream test');
      const short = await newSession();
      await deliver(short, progress(short, 1));
      const whole = await api.request<{ events: unknown[]; events_truncated: boolean }>('GET', `/orchestrator/sessions/${short.id}`);
      expect(whole.body.events).toHaveLength(1);
      expect(whole.body.events_truncated).toBe(false);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['after_sequence=-1', 'after_sequence'],
      ['after_sequence=abc', 'after_sequence'],
      ['cursor=x', 'cursor'],
      ['limit=1e2', 'limit'],
      ['limit=0x10', 'limit'],
      ['limit=', 'limit'],
      ['after_sequence=%205', 'after_sequence'],
    ])('refuses %s with 400 naming the parameter', async (query, name) => {
      const session = await newSession();
      const answer = await api.request<{ error: { code: string; message: string } }>(
        'GET',
        `/orchestrator/sessions/${session.id}/events?${query}`,
      );
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('bad_request');
      expect(answer.body.error.message).toContain(name);
    });

    it('answers 404 for an unknown session and 401 without a token', async () => {
      expect((await api.request('GET', '/orchestrator/sessions/00000000-0000-4000-8000-000000000000/events')).status).toBe(404);
      const session = await newSession();
      expect((await api.request('GET', `/orchestrator/sessions/${session.id}/events`, { token: null })).status).toBe(401);
    });
  });

  describe('GET /orchestrator/sessions/:id/events/stream', () => {
    it('sends what is stored, then new events as they are stored, and ends after the terminal event', async () => {
      const session = await newSession();
      await deliver(session, progress(session, 1));
      await deliver(session, progress(session, 2));
      const connection = await stream(`/orchestrator/sessions/${session.id}/events/stream`);
      expect(connection.status).toBe(200);
      expect(connection.headers['content-type']).toMatch(/^text\/event-stream/);
      await connection.waitFor((events) => events.length === 2);
      await deliver(session, progress(session, 3));
      await connection.waitFor((events) => events.length === 3);
      await deliver(session, result(session, 4));
      await connection.ended;
      expect(sequences(connection)).toEqual([1, 2, 3, 4]);
      expect(connection.events.map((event) => event.event)).toEqual(['progress', 'progress', 'progress', 'result']);
      expect(JSON.parse(connection.events[3].data)).toMatchObject({
        sequence: 4,
        type: 'result',
        status: 'completed',
        data: { summary: 'done' },
      });
    });

    it('resumes after Last-Event-ID: nothing missed, nothing repeated', async () => {
      const session = await newSession();
      for (let sequence = 1; sequence <= 5; sequence += 1) await deliver(session, progress(session, sequence));
      const first = await stream(`/orchestrator/sessions/${session.id}/events/stream`);
      await first.waitFor((events) => events.length === 5);
      first.close();
      for (let sequence = 6; sequence <= 9; sequence += 1) await deliver(session, progress(session, sequence));
      const resumed = await stream(`/orchestrator/sessions/${session.id}/events/stream`, {
        ...AUTH,
        'last-event-id': first.events.at(-1)?.id ?? '',
      });
      await deliver(session, progress(session, 10));
      await resumed.waitFor((events) => events.length === 5);
      await sleep(200);
      expect([...sequences(first), ...sequences(resumed)]).toEqual(Array.from({ length: 10 }, (_, index) => index + 1));
      const fromQuery = await stream(`/orchestrator/sessions/${session.id}/events/stream?after_sequence=8`);
      await fromQuery.waitFor((events) => events.length === 2);
      expect(sequences(fromQuery)).toEqual([9, 10]);
    });

    it('follows a burst of events in order, each once, for many clients at once', async () => {
      const session = await newSession();
      const clients = await Promise.all(Array.from({ length: 20 }, () => stream(`/orchestrator/sessions/${session.id}/events/stream`)));
      // The orchestrator sends one event of a session at a time; here they come in order, back to back.
      for (let sequence = 1; sequence <= 150; sequence += 1) await deliver(session, progress(session, sequence));
      await Promise.all(clients.map((client) => client.waitFor((events) => events.length === 150, 15_000)));
      for (const client of clients) expect(sequences(client)).toEqual(Array.from({ length: 150 }, (_, index) => index + 1));
    }, 20_000);

    it('sends every event, once and in order, to clients that join while events are being stored', async () => {
      const session = await newSession();
      const total = 150;
      // At the orchestrator's pace: each event once the previous one was accepted.
      const storing = (async () => {
        for (let sequence = 1; sequence < total; sequence += 1) await deliver(session, progress(session, sequence));
        await deliver(session, result(session, total));
      })();
      // Each joins while others follow already: its own catch-up may read events the session's feed has not read yet.
      const clients: SseConnection[] = [];
      while (clients.length < 40) {
        clients.push(await stream(`/orchestrator/sessions/${session.id}/events/stream`));
        await sleep(3);
      }
      await storing;
      await Promise.all(clients.map((client) => client.ended));
      const everyEvent = Array.from({ length: total }, (_, index) => index + 1);
      for (const client of clients) expect(sequences(client)).toEqual(everyEvent);
    }, 30_000);

    it('sends an event whose wake-up came while the first client was catching up, without waiting for another event', async () => {
      const session = await newSession();
      const repository = api.get(SessionEventRepository);
      const realAfter = repository.after.bind(repository);
      // The catch-up's read is answered from before the event was stored; the event's wake-up comes before that answer.
      const after = jest.spyOn(repository, 'after').mockImplementationOnce(async (...args) => {
        const stale = await realAfter(...args);
        await deliver(session, progress(session, 1));
        await sleep(300);
        return stale;
      });
      try {
        const connection = await stream(`/orchestrator/sessions/${session.id}/events/stream`);
        await connection.waitFor((events) => events.length === 1, 3_000);
        expect(sequences(connection)).toEqual([1]);
      } finally {
        after.mockRestore();
      }
    });

    it("sends an operator's kill and then the orchestrator's terminal report, and ends after the report", async () => {
      const session = await newSession();
      const connection = await stream(`/orchestrator/sessions/${session.id}/events/stream`);
      await deliver(session, progress(session, 1));
      await connection.waitFor((events) => events.length === 1);
      await api.get(OrchestratorSessionRepository).applyStatus(session.id, { status: 'killed', at: new Date() }, { actor: ADMIN });
      await connection.waitFor((events) => events.length === 2);
      expect(JSON.parse(connection.events[1].data)).toMatchObject({ type: 'status', status: 'killed', data: { actor: 'admin' } });
      await deliver(session, progressEvent(session, 2, { type: 'status', status: 'killed', data: {} }));
      await connection.ended;
      expect(sequences(connection)).toEqual([1, 1, 2]);
    });

    it(
      'ends the streams of a session that ended without a report of its own, once the wait for one is over',
      async () => {
        const session = await newSession();
        const connection = await stream(`/orchestrator/sessions/${session.id}/events/stream`);
        const started = Date.now();
        await api.get(OrchestratorSessionRepository).applyStatus(session.id, { status: 'failed', at: new Date(), error: 'lost' });
        await connection.ended;
        expect(Date.now() - started).toBeGreaterThanOrEqual(TERMINAL_REPORT_WAIT_MS - 500);
        expect(Date.now() - started).toBeLessThan(TERMINAL_REPORT_WAIT_MS + 3_000);
        expect(connection.events).toEqual([]);
      },
      TERMINAL_REPORT_WAIT_MS + 10_000,
    );

    it('sends heartbeat comments while idle', async () => {
      const session = await newSession();
      const connection = await stream(`/orchestrator/sessions/${session.id}/events/stream`);
      await sleep(1_000);
      expect(connection.comments.filter((comment) => comment === 'heartbeat').length).toBeGreaterThanOrEqual(2);
    });

    it('refuses a stream without a valid token (401), with a token in the URL only, or with a bad Last-Event-ID (400)', async () => {
      const session = await newSession();
      expect((await stream(`/orchestrator/sessions/${session.id}/events/stream`, {})).status).toBe(401);
      expect((await stream(`/orchestrator/sessions/${session.id}/events/stream?token=${OPERATOR_TOKEN}`, {})).status).toBe(401);
      expect((await stream(`/orchestrator/sessions/${session.id}/events/stream`, { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await stream(`/orchestrator/sessions/${session.id}/events/stream`, { ...AUTH, 'last-event-id': 'x1' })).status).toBe(400);
      expect((await stream('/orchestrator/sessions/00000000-0000-4000-8000-000000000000/events/stream')).status).toBe(404);
    });

    it('cuts off a client that stops reading, never holding more than its limit for it', async () => {
      const session = await newSession();
      const cutBefore = await cutStreams();
      // What the API holds for this client is what its side of the connection has not yet handed to the kernel.
      const server = api.app.getHttpServer() as Server;
      const apiSides: net.Socket[] = [];
      const seen = (candidate: net.Socket) => apiSides.push(candidate);
      server.on('connection', seen);
      const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        `GET /orchestrator/sessions/${session.id}/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR_TOKEN}\r\nAccept: text/event-stream\r\n\r\n`,
      );
      // Read nothing from here on: the kernel's buffers fill, then the API's.
      socket.pause();
      await sleep(200);
      server.off('connection', seen);
      const apiSide = apiSides.find((candidate) => candidate.remotePort === socket.localPort);
      const line = 'x'.repeat(8_000);
      let sequence = 0;
      let mostHeld = 0;
      while ((await cutStreams()) === cutBefore && sequence < 6_000) {
        await Promise.all(
          Array.from({ length: 50 }, () => {
            sequence += 1;
            return deliver(session, progressEvent(session, sequence, { type: 'log', data: { stream: 'stdout', line } })).then(() => {
              mostHeld = Math.max(mostHeld, apiSide?.writableLength ?? 0);
            });
          }),
        );
      }
      expect(await cutStreams()).toBe(cutBefore + 1);
      // More was stored than the API may hold for the client, and it held at most its limit and the event that crossed it.
      expect(sequence * line.length).toBeGreaterThan(4 * BUFFER_LIMIT);
      expect(apiSide?.destroyed).toBe(true);
      expect(mostHeld).toBeLessThanOrEqual(BUFFER_LIMIT + 2 * line.length);
      socket.destroy();
    }, 30_000);
  });

  describe('GET /orchestrator/events/stream', () => {
    it('sends each new session and each change of status as the session object', async () => {
      const connection = await stream('/orchestrator/events/stream');
      const session = await newSession();
      await connection.waitFor((events) =>
        events.some((event) => JSON.parse(event.data).id === session.id && JSON.parse(event.data).status === 'running'),
      );
      await deliver(session, result(session, 1));
      await connection.waitFor((events) =>
        events.some((event) => JSON.parse(event.data).id === session.id && JSON.parse(event.data).status === 'completed'),
      );
      const mine = connection.events.filter((event) => JSON.parse(event.data).id === session.id);
      expect(mine.every((event) => event.event === 'session')).toBe(true);
      expect(JSON.parse(mine.at(-1)?.data ?? '{}')).toMatchObject({
        id: session.id,
        task_id: session.taskId,
        task_title: 'stream test',
        status: 'completed',
        exit_code: 0,
      });
    });

    it('does not send a session again for events that change nothing a list shows', async () => {
      const connection = await stream('/orchestrator/events/stream');
      const session = await newSession();
      const mine = () => connection.events.filter((event) => JSON.parse(event.data).id === session.id);
      await connection.waitFor(() => mine().some((event) => JSON.parse(event.data).status === 'running'));
      await sleep(200);
      const before = mine().length;
      for (let sequence = 1; sequence <= 5; sequence += 1) await deliver(session, progress(session, sequence));
      await sleep(300);
      expect(mine()).toHaveLength(before);
    });
  });

  describe('with two API instances on one database', () => {
    let other: TestApi;
    let otherUrl: string;

    beforeAll(async () => {
      other = await TestApi.start();
      otherUrl = await other.listen();
    });

    afterAll(async () => {
      await other?.close();
    });

    it("an event stored through one instance reaches the other's streams at once", async () => {
      const session = await newSession();
      const events = await openSse(`${otherUrl}/orchestrator/sessions/${session.id}/events/stream`, AUTH);
      const sessions = await openSse(`${otherUrl}/orchestrator/events/stream`, AUTH);
      open.push(events, sessions);
      const latencies: number[] = [];
      for (let sequence = 1; sequence <= 20; sequence += 1) {
        const sent = Date.now();
        await deliver(session, progress(session, sequence));
        await events.waitFor((received) => received.length === sequence);
        latencies.push(Date.now() - sent);
      }
      await deliver(session, result(session, 21));
      await events.ended;
      await sessions.waitFor((received) =>
        received.some((event) => JSON.parse(event.data).id === session.id && JSON.parse(event.data).status === 'completed'),
      );
      expect(sequences(events)).toEqual(Array.from({ length: 21 }, (_, index) => index + 1));
      // Without the NOTIFY between instances nothing would arrive at all: the bound only keeps a busy machine from failing it.
      expect(Math.max(...latencies)).toBeLessThan(2_000);
    }, 20_000);

    it('closing an instance ends its streams at once instead of holding the shutdown', async () => {
      const closing = await TestApi.start();
      const closingUrl = await closing.listen();
      const session = await newSession();
      const connection = await openSse(`${closingUrl}/orchestrator/sessions/${session.id}/events/stream`, AUTH);
      const started = Date.now();
      await closing.close();
      await connection.ended;
      expect(Date.now() - started).toBeLessThan(3_000);
    });
  });

  async function cutStreams(): Promise<number> {
    const metrics = await api.request<string>('GET', '/metrics');
    return sampleValue(metrics.body, 'mosaic_event_streams_ended_total', { kind: 'session_events', how: 'cut' }) ?? 0;
  }
});
