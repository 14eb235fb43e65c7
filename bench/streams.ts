import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StubOrchestrator } from '../test/support/stub-orchestrator';
import { type CallbackSession, EventSource, combined, eventBody, run, seedSessions } from './ingestion';
import { type LoadResult, OPERATOR_TOKEN, residentMegabytes, startApi, startBaseline } from './support';

export const STREAM_CLIENTS = 200;
/** The sessions whose events the latency run streams: each followed by STREAM_CLIENTS / this many clients. */
export const STREAMED_SESSIONS = 20;
export const EVENTS_PER_SECOND = 1_000;
const LATENCY_SECONDS = 10;
const LOAD_CONNECTIONS = 50;
const LOAD_ROUNDS = 4;
const LOAD_ROUND_SECONDS = 4;

export interface StreamsResult {
  /** Callback 202 → the event in every client that follows its session. */
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  readonly eventsSent: number;
  /** Events some client never received (should be 0). */
  readonly eventsMissed: number;
  /** The callback rate of the bare baseline, and of the API without and with the clients connected, in alternating rounds. */
  readonly baseline: LoadResult;
  readonly withoutClients: LoadResult;
  readonly withClients: LoadResult;
  /** API RSS after each of two identical callback runs with the clients connected. */
  readonly apiRssMb: { readonly afterRun1: number; readonly afterRun2: number };
}

/** One stream client: when each event (by `event_id`) arrived. */
interface StreamClient {
  readonly arrivals: Map<string, number>;
  close(): void;
}

function follow(url: string, sessionId: string): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const arrivals = new Map<string, number>();
    const request = http.get(
      `${url}/orchestrator/sessions/${sessionId}/events/stream`,
      { headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, accept: 'text/event-stream' } },
      (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`stream answered ${response.statusCode}`));
          return;
        }
        let buffer = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          const now = performance.now();
          buffer += chunk;
          const complete = buffer.lastIndexOf('\n\n');
          if (complete < 0) return;
          for (const match of buffer.slice(0, complete).matchAll(/"event_id":"([^"]+)"/g)) arrivals.set(match[1]!, now);
          buffer = buffer.slice(complete + 2);
        });
        resolve({ arrivals, close: () => request.destroy() });
      },
    );
    request.on('error', reject);
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Sends each streamed session's events one after another (the next once the
 * previous was answered, as the orchestrator does), paced so that all
 * sessions together send EVENTS_PER_SECOND; answers when each was answered 202.
 */
async function sendPaced(url: string, sessions: CallbackSession[], seconds: number): Promise<Map<string, number>> {
  const answered = new Map<string, number>();
  const interval = (1000 * sessions.length) / EVENTS_PER_SECOND;
  const agent = new http.Agent({ keepAlive: true, maxSockets: sessions.length });
  const started = performance.now();
  await Promise.all(
    sessions.map(async (session, index) => {
      for (let k = 0; ; k += 1) {
        const due = started + (index * interval) / sessions.length + k * interval;
        if (due - started > seconds * 1000) return;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        session.sequence += 1;
        const eventId = `stream-${session.id}-${session.sequence}`;
        const body = JSON.stringify(eventBody(session.sequence, eventId, session));
        const status = await post(agent, `${url}/orchestrator/callbacks/${session.id}`, session.authorization, body);
        if (status === 202) answered.set(eventId, performance.now());
      }
    }),
  );
  agent.destroy();
  return answered;
}

function post(agent: http.Agent, url: string, authorization: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { authorization, 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', () => resolve(0));
    request.end(body);
  });
}

export async function benchStreams(
  databaseUrl: string,
  orchestrator: StubOrchestrator,
  log: (line: string) => void,
): Promise<StreamsResult> {
  const sessions = await seedSessions(databaseUrl);
  // Its clients stand for that many operators, all from this host with the one token: the per-key and per-address caps
  // let in twice as many, since clients it closes leave the API a moment after, while it opens the next ones.
  const caps = String(2 * STREAM_CLIENTS);
  const api = await startApi(databaseUrl, orchestrator, { STREAM_MAX_PER_KEY: caps, STREAM_MAX_PER_ADDRESS: caps });
  const baseline = await startBaseline(databaseUrl).catch(async (error: unknown) => {
    await api.stop();
    throw error;
  });
  const clients: StreamClient[] = [];
  const closeClients = () => {
    for (const client of clients.splice(0)) client.close();
  };
  try {
    // Latency: 200 clients on 20 sessions, 1,000 events a second over those sessions.
    const streamed = sessions.slice(0, STREAMED_SESSIONS);
    for (let index = 0; index < STREAM_CLIENTS; index += 1) clients.push(await follow(api.url, streamed[index % STREAMED_SESSIONS]!.id));
    const followers = (sessionIndex: number) => clients.filter((_, index) => index % STREAMED_SESSIONS === sessionIndex);
    await sleep(500);
    const answered = await sendPaced(api.url, streamed, LATENCY_SECONDS);
    await sleep(1_000);
    const latencies: number[] = [];
    let missed = 0;
    for (const [eventId, at] of answered) {
      const sessionIndex = streamed.findIndex((session) => eventId.startsWith(`stream-${session.id}-`));
      const arrivals = followers(sessionIndex).map((client) => client.arrivals.get(eventId));
      if (arrivals.some((arrival) => arrival === undefined)) {
        missed += 1;
        continue;
      }
      // NOTIFY fires at the commit, before the answer is written: a client may have it before the sender has its 202.
      latencies.push(Math.max(0, Math.max(...(arrivals as number[])) - at));
    }
    closeClients();
    log(`  streams: ${answered.size} events to ${STREAM_CLIENTS} clients, p99 ${percentile(latencies, 99).toFixed(1)} ms`);

    // The callback rate with and without 200 clients, each following a session the load writes to.
    const apiEvents = new EventSource('api', sessions);
    const baselineEvents = new EventSource('baseline', sessions);
    await run(baseline, baselineEvents, LOAD_CONNECTIONS, 5);
    await run(api, apiEvents, LOAD_CONNECTIONS, 5);
    const runs = { baseline: [] as LoadResult[], without: [] as LoadResult[], with: [] as LoadResult[] };
    for (let round = 0; round < LOAD_ROUNDS; round += 1) {
      runs.baseline.push(await run(baseline, baselineEvents, LOAD_CONNECTIONS, LOAD_ROUND_SECONDS));
      const withoutFirst = round % 2 === 0;
      if (withoutFirst) runs.without.push(await run(api, apiEvents, LOAD_CONNECTIONS, LOAD_ROUND_SECONDS));
      for (let index = 0; index < STREAM_CLIENTS; index += 1) clients.push(await follow(api.url, sessions[STREAMED_SESSIONS + index]!.id));
      runs.with.push(await run(api, apiEvents, LOAD_CONNECTIONS, LOAD_ROUND_SECONDS));
      closeClients();
      if (!withoutFirst) runs.without.push(await run(api, apiEvents, LOAD_CONNECTIONS, LOAD_ROUND_SECONDS));
    }
    for (let index = 0; index < STREAM_CLIENTS; index += 1) clients.push(await follow(api.url, sessions[STREAMED_SESSIONS + index]!.id));
    // Two identical runs with the same 200 clients following: the second must not hold more than the first.
    await run(api, apiEvents, LOAD_CONNECTIONS, LOAD_ROUND_SECONDS);
    const afterRun1 = residentMegabytes(api.pid);
    await run(api, apiEvents, LOAD_CONNECTIONS, LOAD_ROUND_SECONDS);
    const afterRun2 = residentMegabytes(api.pid);
    return {
      deliveryP50Ms: percentile(latencies, 50),
      deliveryP99Ms: percentile(latencies, 99),
      eventsSent: answered.size,
      eventsMissed: missed,
      baseline: combined(runs.baseline),
      withoutClients: combined(runs.without),
      withClients: combined(runs.with),
      apiRssMb: { afterRun1, afterRun2 },
    };
  } finally {
    closeClients();
    await Promise.all([api.stop(), baseline.stop()]);
  }
}
