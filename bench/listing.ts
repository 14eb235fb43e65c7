import { performance } from 'node:perf_hooks';
import type { StubOrchestrator } from '../test/support/stub-orchestrator';
import { OPERATOR_TOKEN, median, query, residentMegabytes, startApi } from './support';

const SMALL = 1_000;
const LARGE = 1_000_000;
const EVENTS_PER_SESSION = 10;
const SAMPLES = 300;
const PAGED_SESSIONS = 100_000;
const PAGE_SIZE = 100;
const LIST_PATH = '/orchestrator/sessions?status=running&limit=50';

export interface ListingResult {
  readonly smallP50Ms: number;
  readonly largeP50Ms: number;
  readonly firstPagePlan: string;
  readonly deepPagePlan: string;
  /** API RSS after paging through PAGED_SESSIONS sessions, twice. */
  readonly rssMb: { readonly afterRun1: number; readonly afterRun2: number };
  readonly pagedSessions: number;
}

/**
 * Sessions 1..`count`, the higher the newer, one task each; every tenth is
 * running, the rest completed, as in a history that has mostly ended.
 */
async function seedSessions(databaseUrl: string, count: number): Promise<void> {
  await query(databaseUrl, async (client) => {
    await client.query(
      `INSERT INTO tasks (id, title, status, updated_at, created_at)
       SELECT md5('task' || i)::uuid, 'listing bench ' || i,
              (CASE WHEN i % 10 = 0 THEN 'running' ELSE 'completed' END)::task_status,
              now(), now() - make_interval(secs => $1::int - i)
         FROM generate_series(1, $1::int) AS i`,
      [count],
    );
    await client.query(
      `INSERT INTO orchestrator_sessions (id, task_id, active_task_id, orchestrator_session_id, status, last_sequence,
                                          callback_token_hash, callback_token_expires_at, started_at, ended_at,
                                          created_at, updated_at)
       SELECT md5('session' || i)::uuid, md5('task' || i)::uuid,
              CASE WHEN i % 10 = 0 THEN md5('task' || i)::uuid END,
              'orch-' || i,
              (CASE WHEN i % 10 = 0 THEN 'running' ELSE 'completed' END)::session_status,
              ${EVENTS_PER_SESSION}, md5('token' || i), now() + interval '1 day',
              now() - make_interval(secs => $1::int - i),
              CASE WHEN i % 10 <> 0 THEN now() END,
              now() - make_interval(secs => $1::int - i), now()
         FROM generate_series(1, $1::int) AS i`,
      [count],
    );
    await client.query('ANALYZE tasks, orchestrator_sessions, orchestrator_session_events');
  });
}

async function seedEvents(databaseUrl: string, sessions: number): Promise<void> {
  await query(databaseUrl, (client) =>
    client.query(
      `INSERT INTO orchestrator_session_events (session_id, event_id, sequence, type, occurred_at, data)
       SELECT md5('session' || i)::uuid, 'event-' || i || '-' || n, n, 'progress', now(), jsonb_build_object('message', 'step ' || n)
         FROM generate_series(1, $1::int) AS i, generate_series(1, $2::int) AS n`,
      [sessions, EVENTS_PER_SESSION],
    ),
  );
}

/** The statement Prisma issues for the list (first page, and a page after a cursor), with its plan. */
async function explain(databaseUrl: string, cursorOffset: number | undefined): Promise<string> {
  return query(databaseUrl, async (client) => {
    let cursorCondition = '';
    const values: unknown[] = ['running'];
    if (cursorOffset !== undefined) {
      const cursor = await client.query<{ created_at: Date; id: string }>(
        `SELECT created_at, id FROM orchestrator_sessions WHERE status = 'running' ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`,
        [cursorOffset],
      );
      const row = cursor.rows[0];
      if (row === undefined) throw new Error('no cursor row');
      values.push(row.created_at, row.id);
      cursorCondition = 'AND created_at <= $2 AND (created_at < $2 OR (created_at = $2 AND id < $3))';
    }
    const plan = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
       SELECT * FROM orchestrator_sessions WHERE status = $1 ${cursorCondition}
        ORDER BY created_at DESC, id DESC LIMIT 51`,
      values,
    );
    return plan.rows.map((row) => row['QUERY PLAN']).join('\n');
  });
}

async function timedList(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${url}${LIST_PATH}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`list answered ${response.status}`);
  return performance.now() - started;
}

/**
 * The list's p50 on each API, their requests interleaved (which goes first
 * alternates) so that the machine's drift hits both sizes alike, after 30
 * unmeasured requests each.
 */
async function interleavedP50(smallUrl: string, largeUrl: string): Promise<{ small: number; large: number }> {
  const small: number[] = [];
  const large: number[] = [];
  for (let sample = 0; sample < SAMPLES + 30; sample += 1) {
    const [first, second] = sample % 2 === 0 ? [smallUrl, largeUrl] : [largeUrl, smallUrl];
    const firstMs = await timedList(first);
    const secondMs = await timedList(second);
    if (sample < 30) continue;
    small.push(first === smallUrl ? firstMs : secondMs);
    large.push(first === smallUrl ? secondMs : firstMs);
  }
  return { small: median(small), large: median(large) };
}

/** Follows `next_cursor` through `sessions` sessions, newest first, all statuses. */
async function pageThrough(url: string, sessions: number): Promise<number> {
  let seen = 0;
  let cursor: string | null = null;
  while (seen < sessions) {
    const path: string = `/orchestrator/sessions?limit=${PAGE_SIZE}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    if (response.status !== 200) throw new Error(`list answered ${response.status}`);
    const page = (await response.json()) as { sessions: unknown[]; next_cursor: string | null };
    seen += page.sessions.length;
    cursor = page.next_cursor;
    if (cursor === null) break;
  }
  return seen;
}

/** The small and the large history each in a database of its own, each served by an API process of its own. */
export async function benchListing(
  databases: { readonly small: string; readonly large: string },
  orchestrator: StubOrchestrator,
  log: (line: string) => void,
): Promise<ListingResult> {
  await seedSessions(databases.small, SMALL);
  await seedEvents(databases.small, SMALL);
  log(`  listing: seeding ${LARGE} sessions`);
  await seedSessions(databases.large, LARGE);
  const small = await startApi(databases.small, orchestrator);
  try {
    const large = await startApi(databases.large, orchestrator);
    try {
      const p50 = await interleavedP50(small.url, large.url);
      log(`  listing p50: ${p50.small.toFixed(2)} ms at ${SMALL} sessions, ${p50.large.toFixed(2)} ms at ${LARGE}`);
      const firstPagePlan = await explain(databases.large, undefined);
      const deepPagePlan = await explain(databases.large, 50_000);
      const pagedSessions = await pageThrough(large.url, PAGED_SESSIONS);
      const afterRun1 = residentMegabytes(large.pid);
      await pageThrough(large.url, PAGED_SESSIONS);
      const afterRun2 = residentMegabytes(large.pid);
      return { smallP50Ms: p50.small, largeP50Ms: p50.large, firstPagePlan, deepPagePlan, rssMb: { afterRun1, afterRun2 }, pagedSessions };
    } finally {
      await large.stop();
    }
  } finally {
    await small.stop();
  }
}
