import type autocannon from 'autocannon';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { StubOrchestrator } from '../test/support/stub-orchestrator';
import { type BenchProcess, type LoadResult, load, median, query, residentMegabytes, startApi, startBaseline } from './support';

const SESSIONS = 1_000;
export const INGESTION_CONCURRENCIES = [10, 50, 100] as const;
/** Per concurrency, this many runs of each side, taking turns: a drift in the machine's speed then hits both. */
export const INGESTION_ROUNDS = 4;
export const INGESTION_ROUND_SECONDS = 4;
const MEMORY_RUN_SECONDS = 8;
// Long enough for the API's request path to be optimised by V8: runs at 10 connections right after a 3 s warm-up
// came out 30 points below the runs that followed them.
export const WARM_UP_SECONDS = 15;
const MEMORY_RUN_CONCURRENCY = 50;

export interface CallbackSession {
  readonly id: string;
  readonly orchestratorSessionId: string;
  readonly authorization: string;
  sequence: number;
}

export interface IngestionPoint {
  readonly concurrency: number;
  readonly baseline: LoadResult;
  readonly api: LoadResult;
}

export interface EventAudit {
  /** Events answered 202 that are not in the database. */
  readonly lost: number;
  /** Rows beyond one per event id, plus 202 answers that said `duplicate: true` for an event sent once. */
  readonly duplicated: number;
  readonly accepted: number;
  readonly stored: number;
}

export interface IngestionResult {
  readonly points: IngestionPoint[];
  readonly apiAudit: EventAudit;
  readonly baselineAudit: EventAudit;
  /** API RSS after the concurrency series, then after each of two identical further runs. */
  readonly apiRssMb: { readonly afterSeries: number; readonly afterRun1: number; readonly afterRun2: number };
}

/**
 * Running sessions with tokens the benchmark knows, inserted directly: the token
 * hash is what CallbackTokenService stores (sha256 hex of the token).
 */
export async function seedSessions(url: string, count = SESSIONS): Promise<CallbackSession[]> {
  const sessions = Array.from({ length: count }, (_, index) => ({
    id: randomUUID(),
    taskId: randomUUID(),
    orchestratorSessionId: `bench-orch-${index}`,
    token: `mcb_${randomBytes(32).toString('base64url')}`,
  }));
  await query(url, async (client) => {
    await client.query(
      `INSERT INTO tasks (id, title, status, updated_at)
       SELECT id, 'callback bench', 'running', now() FROM unnest($1::uuid[]) AS t(id)`,
      [sessions.map((session) => session.taskId)],
    );
    await client.query(
      `INSERT INTO orchestrator_sessions (id, task_id, active_task_id, orchestrator_session_id, status,
                                          callback_token_hash, callback_token_expires_at, started_at, updated_at)
       SELECT id, task_id, task_id, orchestrator_session_id, 'running', hash, now() + interval '1 day', now(), now()
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS s(id, task_id, orchestrator_session_id, hash)`,
      [
        sessions.map((session) => session.id),
        sessions.map((session) => session.taskId),
        sessions.map((session) => session.orchestratorSessionId),
        sessions.map((session) => createHash('sha256').update(session.token, 'utf8').digest('hex')),
      ],
    );
  });
  return sessions.map((session) => ({
    id: session.id,
    orchestratorSessionId: session.orchestratorSessionId,
    authorization: `Bearer ${session.token}`,
    sequence: 0,
  }));
}

/**
 * Sends unique events round-robin over the sessions, each with the session's
 * next sequence number, and remembers which event ids were answered 202.
 * The mix is one status event (`running`, taking the transactional path) to
 * nine progress and log events, roughly what a chatty agent produces.
 */
export class EventSource {
  readonly accepted = new Set<string>();
  duplicateAnswers = 0;
  private next = 0;

  constructor(
    private readonly prefix: string,
    private readonly sessions: CallbackSession[],
  ) {}

  request(): autocannon.Request {
    return {
      method: 'POST',
      setupRequest: (request, context) => {
        const index = this.next++;
        const session = this.sessions[index % this.sessions.length]!;
        session.sequence += 1;
        const eventId = `${this.prefix}-${index}`;
        (context as { eventId?: string }).eventId = eventId;
        return {
          ...request,
          path: `/orchestrator/callbacks/${session.id}`,
          headers: { 'content-type': 'application/json', authorization: session.authorization },
          body: JSON.stringify(eventBody(index, eventId, session)),
        };
      },
      onResponse: (status, body, context) => {
        const eventId = (context as { eventId?: string }).eventId;
        if (status !== 202 || eventId === undefined) return;
        this.accepted.add(eventId);
        if (body.includes('"duplicate":true')) this.duplicateAnswers += 1;
      },
    };
  }

  async audit(url: string): Promise<EventAudit> {
    const rows = await query(url, async (client) => {
      const result = await client.query<{ event_id: string }>(
        'SELECT event_id FROM orchestrator_session_events WHERE event_id LIKE $1',
        [`${this.prefix}-%`],
      );
      return result.rows.map((row) => row.event_id);
    });
    const stored = new Set(rows);
    let lost = 0;
    for (const eventId of this.accepted) if (!stored.has(eventId)) lost += 1;
    return { lost, duplicated: rows.length - stored.size + this.duplicateAnswers, accepted: this.accepted.size, stored: rows.length };
  }
}

export function eventBody(index: number, eventId: string, session: CallbackSession): Record<string, unknown> {
  const envelope = { event_id: eventId, session_id: session.orchestratorSessionId, sequence: session.sequence, timestamp: new Date().toISOString() };
  if (index % 10 === 0) return { ...envelope, type: 'status', status: 'running', data: {} };
  if (index % 2 === 0) return { ...envelope, type: 'progress', data: { message: `step ${session.sequence}`, percent: session.sequence % 100 } };
  return { ...envelope, type: 'log', data: { stream: 'stdout', line: `agent output line ${session.sequence} of a benchmark session` } };
}

/**
 * Runs of equal length as one: the mean rate, the median run's latencies
 * (one run slowed by a neighbour on the machine moves a median less than a
 * mean or a maximum), and every answer counted.
 */
export function combined(runs: readonly LoadResult[]): LoadResult {
  return {
    requestsPerSecond: runs.reduce((sum, result) => sum + result.requestsPerSecond, 0) / runs.length,
    p50Ms: median(runs.map((result) => result.p50Ms)),
    p99Ms: median(runs.map((result) => result.p99Ms)),
    ok: runs.reduce((sum, result) => sum + result.ok, 0),
    failed: runs.reduce((sum, result) => sum + result.failed, 0),
  };
}

export function run(target: BenchProcess, source: EventSource, connections: number, seconds: number): Promise<LoadResult> {
  return load({ url: target.url, connections, duration: seconds, requests: [source.request()] });
}

export async function benchIngestion(databaseUrl: string, orchestrator: StubOrchestrator, log: (line: string) => void): Promise<IngestionResult> {
  const sessions = await seedSessions(databaseUrl);
  const api = await startApi(databaseUrl, orchestrator);
  const baseline = await startBaseline(databaseUrl).catch(async (error: unknown) => {
    await api.stop();
    throw error;
  });
  try {
    const apiEvents = new EventSource('api', sessions);
    const baselineEvents = new EventSource('baseline', sessions);
    await run(baseline, baselineEvents, 10, WARM_UP_SECONDS);
    await run(api, apiEvents, 10, WARM_UP_SECONDS);

    const points: IngestionPoint[] = [];
    for (const concurrency of INGESTION_CONCURRENCIES) {
      const baselineRuns: LoadResult[] = [];
      const apiRuns: LoadResult[] = [];
      for (let round = 0; round < INGESTION_ROUNDS; round += 1) {
        // Which side goes first alternates too, so that neither always runs on a machine the other has just warmed.
        if (round % 2 === 0) {
          baselineRuns.push(await run(baseline, baselineEvents, concurrency, INGESTION_ROUND_SECONDS));
          apiRuns.push(await run(api, apiEvents, concurrency, INGESTION_ROUND_SECONDS));
        } else {
          apiRuns.push(await run(api, apiEvents, concurrency, INGESTION_ROUND_SECONDS));
          baselineRuns.push(await run(baseline, baselineEvents, concurrency, INGESTION_ROUND_SECONDS));
        }
      }
      const point = { concurrency, baseline: combined(baselineRuns), api: combined(apiRuns) };
      log(`  ingestion c=${concurrency}: baseline ${Math.round(point.baseline.requestsPerSecond)} req/s, api ${Math.round(point.api.requestsPerSecond)} req/s`);
      points.push(point);
    }

    const afterSeries = residentMegabytes(api.pid);
    await run(api, apiEvents, MEMORY_RUN_CONCURRENCY, MEMORY_RUN_SECONDS);
    const afterRun1 = residentMegabytes(api.pid);
    await run(api, apiEvents, MEMORY_RUN_CONCURRENCY, MEMORY_RUN_SECONDS);
    const afterRun2 = residentMegabytes(api.pid);

    return {
      points,
      apiAudit: await apiEvents.audit(databaseUrl),
      baselineAudit: await baselineEvents.audit(databaseUrl),
      apiRssMb: { afterSeries, afterRun1, afterRun2 },
    };
  } finally {
    await Promise.all([api.stop(), baseline.stop()]);
  }
}
