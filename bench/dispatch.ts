import { performance } from 'node:perf_hooks';
import type { StubOrchestrator } from '../test/support/stub-orchestrator';
import { DISPATCH_FLOOR_TABLE } from './floor-tables';
import { type BenchProcess, type LoadResult, OPERATOR_TOKEN, load, median, query, startApi, startDispatchFloor } from './support';

const TASKS = 20_000;
export const LATENCY_SAMPLES = 500;
/**
 * Dispatches one at a time before sampling: as long as the callback benchmark's warm-up. After 50 the API's
 * path was still being optimised by V8: its p50 fell from 8.5 ms over the next 500 to about 6 ms after 2,000.
 */
export const DISPATCH_WARM_UP_SECONDS = 15;
export const THROUGHPUT_CONCURRENCY = 16;
const RUN_SECONDS = 8;

export interface DispatchResult {
  readonly dispatchP50Ms: number;
  readonly plainP50Ms: number;
  /** The floor: a dispatch by construction (a row, the spawn, its answer recorded) and nothing else (bench/baseline-server.ts). */
  readonly floorP50Ms: number;
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
 * adds. Beside them, the floor: a bare route doing what a dispatch must (a row
 * written before the spawn, the spawn, its answer recorded before the reply),
 * so the report can tell what the construction costs from what the API adds.
 * Latency is sampled one request at a time, the three kinds interleaved so
 * that the machine's noise hits all alike; throughput is autocannon's.
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

  await query(databaseUrl, (client) =>
    client.query(`CREATE TABLE ${DISPATCH_FLOOR_TABLE} (id uuid PRIMARY KEY, task_id uuid NOT NULL, orchestrator_session_id text, status text NOT NULL,
                                                      created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`),
  );
  const api = await startApi(databaseUrl, orchestrator);
  let floor: BenchProcess | undefined;
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
    const plainOnce = () =>
      fetch(`${orchestrator.url}/orchestrator/sessions/spawn`, { method: 'POST', headers: spawnHeaders, body: spawnBody });
    floor = await startDispatchFloor(databaseUrl, {
      url: `${orchestrator.url}/orchestrator/sessions/spawn`,
      headers: spawnHeaders,
      body: spawnBody,
    });
    const floorUrl = floor.url;
    const floorOnce = () => fetch(`${floorUrl}/tasks/${nextTask()}/dispatch`, { method: 'POST', headers: operator, body: '{}' });

    const warmUntil = performance.now() + DISPATCH_WARM_UP_SECONDS * 1000;
    while (performance.now() < warmUntil) {
      await timed(dispatchOnce);
      await timed(plainOnce);
      await timed(floorOnce);
    }
    const dispatchMs: number[] = [];
    const plainMs: number[] = [];
    const floorMs: number[] = [];
    for (let sample = 0; sample < LATENCY_SAMPLES; sample += 1) {
      dispatchMs.push(await timed(dispatchOnce));
      plainMs.push(await timed(plainOnce));
      floorMs.push(await timed(floorOnce));
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
    return {
      dispatchP50Ms: median(dispatchMs),
      plainP50Ms: median(plainMs),
      floorP50Ms: median(floorMs),
      dispatch,
      plain,
      sessionsRecorded,
      dispatchesAccepted: dispatch.ok,
    };
  } finally {
    await Promise.all([api.stop(), floor?.stop()]);
  }
}

async function countSessions(databaseUrl: string): Promise<number> {
  return query(databaseUrl, async (client) => {
    const result = await client.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM orchestrator_sessions WHERE status <> 'failed'`,
    );
    return result.rows[0]?.count ?? 0;
  });
}
