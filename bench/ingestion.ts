import type autocannon from 'autocannon';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { StubOrchestrator } from '../test/support/stub-orchestrator';
import { CALLBACK_FLOOR_TABLE } from './floor-tables';
import {
  type BenchProcess,
  CALLBACK_SIGNING_KEY,
  type LoadResult,
  load,
  median,
  query,
  residentMegabytes,
  startApi,
  startBaseline,
} from './support';

const SESSIONS = 1_000;
// 20 is where the API's p99 is compared with the stricter floor's (issue 21).
export const INGESTION_CONCURRENCIES = [10, 20, 50, 100] as const;
/** Signed against unsigned callbacks, to the same API, at this many connections. */
export const SIGNED_CONCURRENCY = 50;
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
  /** The raw key of a session whose callbacks must carry a Standard Webhooks signature. */
  readonly signingKey?: Buffer;
  sequence: number;
}

export interface IngestionPoint {
  readonly concurrency: number;
  readonly baseline: LoadResult;
  /** The same bare route inserting into a table with only a primary key. */
  readonly floor: LoadResult;
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
  /** The API at SIGNED_CONCURRENCY connections, with sessions whose callbacks are signed and with sessions whose are not. */
  readonly signed: { readonly signed: LoadResult; readonly unsigned: LoadResult };
  readonly apiAudit: EventAudit;
  readonly baselineAudit: EventAudit;
  /** API RSS after the concurrency series, then after each of two identical further runs. */
  readonly apiRssMb: { readonly afterSeries: number; readonly afterRun1: number; readonly afterRun2: number };
}

/**
 * Running sessions with tokens the benchmark knows, inserted directly: the token
 * hash is what CallbackTokenService stores (sha256 hex of the token).
 */
export async function seedSessions(url: string, count = SESSIONS, signed = false): Promise<CallbackSession[]> {
  const sessions = Array.from({ length: count }, (_, index) => ({
    id: randomUUID(),
    taskId: randomUUID(),
    orchestratorSessionId: `bench-orch-${signed ? 'signed-' : ''}${index}`,
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
                                          callback_token_hash, callback_token_expires_at, callbacks_signed, started_at, updated_at)
       SELECT id, task_id, task_id, orchestrator_session_id, 'running', hash, now() + interval '1 day', $5, now(), now()
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS s(id, task_id, orchestrator_session_id, hash)`,
      [
        sessions.map((session) => session.id),
        sessions.map((session) => session.taskId),
        sessions.map((session) => session.orchestratorSessionId),
        sessions.map((session) => createHash('sha256').update(session.token, 'utf8').digest('hex')),
        signed,
      ],
    );
  });
  return sessions.map((session) => ({
    id: session.id,
    orchestratorSessionId: session.orchestratorSessionId,
    authorization: `Bearer ${session.token}`,
    // The API's CallbackSigning: HMAC-SHA256 of the session id under the server key; `whsec_` + its base64 is the secret.
    ...(signed && { signingKey: createHmac('sha256', CALLBACK_SIGNING_KEY).update(`callback-signing:${session.id}`).digest() }),
    sequence: 0,
  }));
}

/**
 * Standard Webhooks headers for `body`, computed with node:crypto rather than the
 * `standardwebhooks` package the orchestrator signs with (pure-JS SHA-256, two to
 * four times slower): the load generator shares the API's CPU.
 */
function signatureHeaders(key: Buffer, eventId: string, body: string): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', key).update(`${eventId}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': eventId, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
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
        const body = JSON.stringify(eventBody(index, eventId, session));
        const signature = session.signingKey ? signatureHeaders(session.signingKey, eventId, body) : {};
        return {
          ...request,
          path: `/orchestrator/callbacks/${session.id}`,
          headers: { 'content-type': 'application/json', authorization: session.authorization, ...signature },
          body,
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
      const result = await client.query<{ event_id: string }>('SELECT event_id FROM orchestrator_session_events WHERE event_id LIKE $1', [
        `${this.prefix}-%`,
      ]);
      return result.rows.map((row) => row.event_id);
    });
    const stored = new Set(rows);
    let lost = 0;
    for (const eventId of this.accepted) if (!stored.has(eventId)) lost += 1;
    return { lost, duplicated: rows.length - stored.size + this.duplicateAnswers, accepted: this.accepted.size, stored: rows.length };
  }
}

export function eventBody(index: number, eventId: string, session: CallbackSession): Record<string, unknown> {
  const envelope = {
    event_id: eventId,
    session_id: session.orchestratorSessionId,
    sequence: session.sequence,
    timestamp: new Date().toISOString(),
  };
  if (index % 10 === 0) return { ...envelope, type: 'status', status: 'running', data: {} };
  if (index % 2 === 0)
    return { ...envelope, type: 'progress', data: { message: `step ${session.sequence}`, percent: session.sequence % 100 } };
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

/** One run of each side per round, the order rotating from round to round, so that none always runs on a machine another has just warmed. */
async function alternate(sides: readonly (() => Promise<LoadResult>)[], rounds: number): Promise<LoadResult[]> {
  const runs: LoadResult[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round += 1) {
    for (let turn = 0; turn < sides.length; turn += 1) {
      const side = (round + turn) % sides.length;
      runs[side]!.push(await sides[side]!());
    }
  }
  return runs.map(combined);
}

/** A copy of the events table's columns and defaults with only a primary key: no unique index, foreign key or trigger. */
async function createFloorTable(url: string): Promise<void> {
  await query(url, (client) =>
    client.query(
      `CREATE TABLE ${CALLBACK_FLOOR_TABLE} (LIKE orchestrator_session_events INCLUDING DEFAULTS); ALTER TABLE ${CALLBACK_FLOOR_TABLE} ADD PRIMARY KEY (id)`,
    ),
  );
}

export async function benchIngestion(
  databaseUrl: string,
  orchestrator: StubOrchestrator,
  log: (line: string) => void,
): Promise<IngestionResult> {
  const sessions = await seedSessions(databaseUrl);
  const signedSessions = await seedSessions(databaseUrl, SESSIONS, true);
  await createFloorTable(databaseUrl);
  const started: BenchProcess[] = [];
  try {
    for (const starting of [
      () => startApi(databaseUrl, orchestrator),
      () => startBaseline(databaseUrl),
      () => startBaseline(databaseUrl, 'floor'),
    ])
      started.push(await starting());
    const [api, baseline, floor] = started as [BenchProcess, BenchProcess, BenchProcess];
    const apiEvents = new EventSource('api', sessions);
    const signedEvents = new EventSource('signed', signedSessions);
    const baselineEvents = new EventSource('baseline', sessions);
    const floorEvents = new EventSource('floor', sessions);
    await run(baseline, baselineEvents, 10, WARM_UP_SECONDS);
    await run(floor, floorEvents, 10, WARM_UP_SECONDS);
    await run(api, apiEvents, 10, WARM_UP_SECONDS);

    const points: IngestionPoint[] = [];
    for (const concurrency of INGESTION_CONCURRENCIES) {
      const [baselineResult, floorResult, apiResult] = await alternate(
        [baselineEvents, floorEvents, apiEvents].map(
          (source, index) => () => run([baseline, floor, api][index]!, source, concurrency, INGESTION_ROUND_SECONDS),
        ),
        INGESTION_ROUNDS,
      );
      const point = { concurrency, baseline: baselineResult!, floor: floorResult!, api: apiResult! };
      log(
        `  ingestion c=${concurrency}: baseline ${Math.round(point.baseline.requestsPerSecond)} req/s, floor ${Math.round(point.floor.requestsPerSecond)} req/s, api ${Math.round(point.api.requestsPerSecond)} req/s`,
      );
      points.push(point);
    }

    await run(api, signedEvents, 10, INGESTION_ROUND_SECONDS);
    const [unsignedResult, signedResult] = await alternate(
      [apiEvents, signedEvents].map((source) => () => run(api, source, SIGNED_CONCURRENCY, INGESTION_ROUND_SECONDS)),
      INGESTION_ROUNDS,
    );
    log(
      `  signed c=${SIGNED_CONCURRENCY}: unsigned ${Math.round(unsignedResult!.requestsPerSecond)} req/s, signed ${Math.round(signedResult!.requestsPerSecond)} req/s`,
    );

    const afterSeries = residentMegabytes(api.pid);
    await run(api, apiEvents, MEMORY_RUN_CONCURRENCY, MEMORY_RUN_SECONDS);
    const afterRun1 = residentMegabytes(api.pid);
    await run(api, apiEvents, MEMORY_RUN_CONCURRENCY, MEMORY_RUN_SECONDS);
    const afterRun2 = residentMegabytes(api.pid);

    const apiAudit = await apiEvents.audit(databaseUrl);
    const signedAudit = await signedEvents.audit(databaseUrl);
    return {
      points,
      signed: { signed: signedResult!, unsigned: unsignedResult! },
      apiAudit: {
        lost: apiAudit.lost + signedAudit.lost,
        duplicated: apiAudit.duplicated + signedAudit.duplicated,
        accepted: apiAudit.accepted + signedAudit.accepted,
        stored: apiAudit.stored + signedAudit.stored,
      },
      baselineAudit: await baselineEvents.audit(databaseUrl),
      apiRssMb: { afterSeries, afterRun1, afterRun2 },
    };
  } finally {
    await Promise.all(started.map((process) => process.stop()));
  }
}
