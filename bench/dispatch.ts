import { performance } from 'node:perf_hooks';
import type { StubOrchestrator } from '../test/support/stub-orchestrator';
import { type LoadResult, OPERATOR_TOKEN, load, median, query, startApi } from './support';

const TASKS = 20_000;
const LATENCY_SAMPLES = 300;
export const THROUGHPUT_CONCURRENCY = 16;
const RUN_SECONDS = 8;

export interface DispatchResult {
  readonly dispatchP50Ms: number;
  readonly plainP50Ms: number;
  readonly dispatch: LoadResult;
  readonly plain: LoadResult;
  /** Sessions recorded against dispatches answered 202: equal unless a dispatch was lost. */
  readonly sessionsRecorded: number;
  readonly dispatchesAccepted: number;
}

async function timed(request: () => Promise<Response>): Promise<number> {
  const started = performance.now();
  const response = await request();
  await response.arrayBuffer();
  const elapsed = performance.now() - started;
  if (!response.ok) throw new Error(`unexpected ${response.status} during the dispatch benchmark`);
  return elapsed;
}

/**
 * Dispatch (API call in, spawn request out, session recorded) against a plain
 * POST of the same spawn body to the same stub: the difference is what the API
 * adds. Latency is sampled one request at a time, the two kinds interleaved so
 * that the machine's noise hits both alike; throughput is autocannon's.
 */
export async function benchDispatch(databaseUrl: string, orchestrator: StubOrchestrator): Promise<DispatchResult> {
  const taskIds = await query(databaseUrl, async (client) => {
    const result = await client.query<{ id: string }>(
      `INSERT INTO tasks (id, title, updated_at)
       SELECT gen_random_uuid(), 'dispatch bench ' || i, now() FROM generate_series(1, $1::int) AS i
       RETURNING id`,
      [TASKS],
    );
    return result.rows.map((row) => row.id);
  });
  let next = 0;
  const nextTask = () => {
    const id = taskIds[next++];
    if (id === undefined) throw new Error(`the dispatch benchmark needs more than ${TASKS} tasks`);
    return id;
  };
  const operator = { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' };

  const api = await startApi(databaseUrl, orchestrator);
  try {
    const dispatchOnce = () => fetch(`${api.url}/tasks/${nextTask()}/dispatch`, { method: 'POST', headers: operator, body: '{}' });
    await timed(dispatchOnce);
    const spawn = orchestrator.spawns().at(-1);
    if (spawn === undefined) throw new Error('the stub orchestrator saw no spawn request');
    const spawnBody = JSON.stringify(spawn.body);
    const spawnHeaders = {
      authorization: String(spawn.headers.authorization),
      'content-type': 'application/json',
      'idempotency-key': String(spawn.headers['idempotency-key']),
    };
    const plainOnce = () => fetch(`${orchestrator.url}/orchestrator/sessions/spawn`, { method: 'POST', headers: spawnHeaders, body: spawnBody });

    for (let warm = 0; warm < 50; warm += 1) {
      await timed(dispatchOnce);
      await timed(plainOnce);
    }
    const dispatchMs: number[] = [];
    const plainMs: number[] = [];
    for (let sample = 0; sample < LATENCY_SAMPLES; sample += 1) {
      dispatchMs.push(await timed(dispatchOnce));
      plainMs.push(await timed(plainOnce));
    }

    const before = await countSessions(databaseUrl);
    const dispatch = await load({
      url: api.url,
      connections: THROUGHPUT_CONCURRENCY,
      duration: RUN_SECONDS,
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => ({ ...request, path: `/tasks/${nextTask()}/dispatch`, headers: operator, body: '{}' }),
        },
      ],
    });
    const sessionsRecorded = (await countSessions(databaseUrl)) - before;
    const plain = await load({
      url: `${orchestrator.url}/orchestrator/sessions/spawn`,
      method: 'POST',
      connections: THROUGHPUT_CONCURRENCY,
      duration: RUN_SECONDS,
      headers: spawnHeaders,
      body: spawnBody,
    });
    return { dispatchP50Ms: median(dispatchMs), plainP50Ms: median(plainMs), dispatch, plain, sessionsRecorded, dispatchesAccepted: dispatch.ok };
  } finally {
    await api.stop();
  }
}

async function countSessions(databaseUrl: string): Promise<number> {
  return query(databaseUrl, async (client) => {
    const result = await client.query<{ count: number }>(`SELECT count(*)::int AS count FROM orchestrator_sessions WHERE status <> 'failed'`);
    return result.rows[0]?.count ?? 0;
  });
}
