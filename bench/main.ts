import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { StubOrchestrator } from '../test/support/stub-orchestrator';
import { THROUGHPUT_CONCURRENCY, benchDispatch, type DispatchResult } from './dispatch';
import { INGESTION_ROUNDS, INGESTION_ROUND_SECONDS, WARM_UP_SECONDS, benchIngestion, type IngestionResult } from './ingestion';
import { benchListing, type ListingResult } from './listing';
import { REPO_ROOT, round, startDatabaseServer, withBenchDatabase } from './support';

const MEMORY_LIMIT_MB = 250;
// Two identical runs differ by garbage-collection timing alone; more than this is growth.
const MEMORY_GROWTH_TOLERANCE_MB = 15;

interface Row {
  readonly figure: string;
  readonly measured: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly goal: string;
  readonly met: boolean;
}

function ingestionRows(result: IngestionResult): Row[] {
  const rows: Row[] = result.points.flatMap((point) => {
    const throughput = point.api.requestsPerSecond / point.baseline.requestsPerSecond;
    const p99 = point.api.p99Ms / point.baseline.p99Ms;
    return [
      {
        figure: `callbacks, ${point.concurrency} connections: req/s`,
        measured: `${Math.round(point.api.requestsPerSecond)}`,
        baseline: `${Math.round(point.baseline.requestsPerSecond)}`,
        ratio: `${round(throughput * 100)} %`,
        goal: '≥ 60 %',
        met: throughput >= 0.6 && point.api.failed === 0,
      },
      {
        figure: `callbacks, ${point.concurrency} connections: p99 (p50)`,
        measured: `${point.api.p99Ms} ms (${point.api.p50Ms})`,
        baseline: `${point.baseline.p99Ms} ms (${point.baseline.p50Ms})`,
        ratio: `${round(p99, 2)}×`,
        goal: '≤ 2×',
        met: p99 <= 2,
      },
    ];
  });
  const audit = result.apiAudit;
  rows.push({
    figure: 'callbacks: lost / duplicated events',
    measured: `${audit.lost} / ${audit.duplicated} (of ${audit.accepted} accepted)`,
    baseline: `${result.baselineAudit.lost} / ${result.baselineAudit.duplicated}`,
    ratio: '',
    goal: '0 / 0',
    met: audit.lost === 0 && audit.duplicated === 0,
  });
  return rows;
}

function dispatchRows(result: DispatchResult): Row[] {
  const overhead = result.dispatchP50Ms - result.plainP50Ms;
  return [
    {
      figure: 'dispatch: p50 (overhead over a plain POST)',
      measured: `${round(result.dispatchP50Ms, 2)} ms (+${round(overhead, 2)})`,
      baseline: `${round(result.plainP50Ms, 2)} ms`,
      ratio: `${round(result.dispatchP50Ms / result.plainP50Ms, 1)}×`,
      goal: 'overhead ≤ 5 ms',
      met: overhead <= 5,
    },
    {
      figure: `dispatch: sustained req/s (${THROUGHPUT_CONCURRENCY} connections)`,
      measured: `${Math.round(result.dispatch.requestsPerSecond)}`,
      baseline: `${Math.round(result.plain.requestsPerSecond)}`,
      ratio: `${round((result.dispatch.requestsPerSecond / result.plain.requestsPerSecond) * 100)} %`,
      goal: '≥ 200/s',
      met: result.dispatch.requestsPerSecond >= 200 && result.dispatch.failed === 0,
    },
    {
      figure: 'dispatch: sessions recorded / accepted',
      measured: `${result.sessionsRecorded} / ${result.dispatchesAccepted}`,
      baseline: '',
      ratio: '',
      // Dispatches still in flight when the run stops have their session but no counted answer: one per connection at most.
      goal: `accepted, up to ${THROUGHPUT_CONCURRENCY} more`,
      met: result.sessionsRecorded >= result.dispatchesAccepted && result.sessionsRecorded - result.dispatchesAccepted <= THROUGHPUT_CONCURRENCY,
    },
  ];
}

function memoryRows(ingestion: IngestionResult, listing: ListingResult): Row[] {
  const row = (figure: string, first: number, second: number): Row => ({
    figure,
    measured: `${Math.round(first)} MB, then ${Math.round(second)} MB`,
    baseline: '',
    ratio: `${second >= first ? '+' : ''}${Math.round(second - first)} MB`,
    goal: `< ${MEMORY_LIMIT_MB} MB, no growth`,
    met: Math.max(first, second) < MEMORY_LIMIT_MB && second - first <= MEMORY_GROWTH_TOLERANCE_MB,
  });
  return [
    row('API RSS after two identical callback runs', ingestion.apiRssMb.afterRun1, ingestion.apiRssMb.afterRun2),
    row(`API RSS after listing ${listing.pagedSessions} sessions, twice`, listing.rssMb.afterRun1, listing.rssMb.afterRun2),
  ];
}

function listingRows(result: ListingResult): Row[] {
  const ratio = result.largeP50Ms / result.smallP50Ms;
  return [
    {
      figure: 'list running, limit 50: p50 at 1,000,000 sessions',
      measured: `${round(result.largeP50Ms, 2)} ms`,
      baseline: `${round(result.smallP50Ms, 2)} ms (1,000)`,
      ratio: `${round(ratio, 2)}×`,
      goal: '≤ 1.5×',
      met: ratio <= 1.5,
    },
  ];
}

function table(rows: Row[]): string {
  const lines = ['| figure | Mosaic API | baseline | ratio | goal | met |', '| --- | --- | --- | --- | --- | --- |'];
  for (const row of rows) lines.push(`| ${row.figure} | ${row.measured} | ${row.baseline} | ${row.ratio} | ${row.goal} | ${row.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

function report(rows: Row[], listing: ListingResult, ingestion: IngestionResult, database: string): string {
  const cpu = cpus();
  return `# Performance

Written by \`pnpm bench\` (bench/main.ts) on ${new Date().toISOString()}: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown'}),
${Math.round(totalmem() / 2 ** 30)} GiB, ${database}, Node ${process.version}. The machine is shared and
noisy, so what counts is the ratio against the baseline measured in the same run, not the absolute figures.

${table(rows)}

## How it is measured

- **Callbacks.** ${ingestion.points.length} concurrency levels against the built API and, in the same run, a bare Fastify
  route (bench/baseline-server.ts, same Fastify, a \`pg\` pool of 10 like the API's) doing one plain \`INSERT\` of the same
  event row; both are separate processes on the same fresh database. The API gets valid tokens for 1,000 running sessions,
  unique event ids and per-session sequence numbers; one event in ten is a \`status\` event, the rest progress and log lines.
  Each side is first warmed up for ${WARM_UP_SECONDS} s at 10 connections (V8 optimises the API's longer request path later
  than the baseline's). At each level the two sides take turns, ${INGESTION_ROUNDS} runs of ${INGESTION_ROUND_SECONDS} s each (which side goes first
  alternates), so that a drift in the machine's speed hits both: req/s is the mean of a side's runs, p50 and p99 are
  its median run's. Lost = answered 202 but not in the database; duplicated = stored twice,
  or answered \`duplicate: true\` for an event sent once. The database may hold a few more events than were answered: requests
  still in flight when a run ends.
- **Dispatch.** \`POST /tasks/:id/dispatch\` against a stub orchestrator on loopback, compared with a plain POST of the same
  spawn body to the same stub. p50 from ${'300'} requests one at a time, the two kinds interleaved; req/s from 8 s at ${THROUGHPUT_CONCURRENCY} connections.
- **Listing.** \`GET /orchestrator/sessions?status=running&limit=50\` with 1,000 sessions and 10 events each, and with
  1,000,000 sessions (one in ten running), each seeded with \`generate_series\` and analysed in a database of its own and
  served by an API process of its own; p50 of 300 requests to each, one at a time, the two sizes interleaved.
- **Memory.** VmRSS of the API process from /proc: after two identical 8 s callback runs at 50 connections, and after paging
  twice through 100,000 sessions 100 at a time by \`next_cursor\` (the API serving 1,000,000 sessions).

## Notes: what profiling found

- **Callbacks: planning, not round trips, was the first limit.** Before this work a callback cost a token lookup
  (Prisma \`findUnique\`) plus one statement, and a status event an interactive transaction (BEGIN, insert, update,
  COMMIT): 2.3 round trips on average against the baseline's one, at about 22 % of the baseline's req/s. The API
  process was half idle under load, and \`writev\` to PostgreSQL sockets was its largest native cost. Now the token check,
  the insert, the sequence advance and the status change are one statement (sessions/session.repository.ts). Run alone
  over \`pg\` with 10 connections, that statement reached only 35–40 % of the plain INSERT’s rate, and 80–90 %
  once both were prepared: PostgreSQL spent more time planning its CTEs than running them. PrismaService now names every
  statement after its text (adapter-pg's \`statementNameGenerator\`), so each is planned once per connection.
- **Callbacks: then Prisma's raw-query path.** With one statement per callback the API process was CPU-bound, and
  Prisma's client runtime (building the query, its WebAssembly query compiler, mapping rows back) ran for every one.
  PrismaService now owns the \`pg\` pool and hands it to the Prisma adapter, and the callback statement runs on that
  pool directly (\`PrismaService.run\`, still a named prepared statement): one pool, one connection limit, and Prisma
  ends it on disconnect. The callback rate went from 782–985 to 2,500–2,700 req/s (the baseline's from 2,400–3,200 to
  4,600–5,700 in the same runs: the machine was busier in the earlier one), 45–55 % of the baseline's, and p99
  came within 2× of the baseline's (just at 2× with 100 connections).
- **Callbacks: then one commit per callback.** With the statement above, the API process was CPU-bound at about 1,100
  callbacks/s on a machine where the baseline did 2,000–3,000, whatever the concurrency, and PostgreSQL spent about
  0.4 ms of CPU per callback against the plain INSERT's 0.25 ms (both read from /proc for the same load). Two changes:
  - **Group commit.** The callbacks that arrive while others are being written now go together in the next statement
    (database/statement-batcher.ts; at most 2 statements in flight, 200 callbacks each, one callback per session per
    statement). The statement takes arrays and applies each row as the single-row one did: token rule, forward-only
    status, task following, each callback answered with its own outcome; a statement that fails is run again callback by
    callback, so one bad callback fails alone. Run alone, PostgreSQL's CPU per event went from 0.37 ms at one event per
    statement to 0.16 ms at five and 0.09 ms at twenty.
  - **Planned once.** PostgreSQL re-planned the array statement on every run (a custom plan looks cheaper when the
    arrays are short), which cost more than running it: the pool now sets \`plan_cache_mode=force_generic_plan\`, and
    the session lookup is a LATERAL index probe per row, so the generic plan cannot become a scan of the sessions table.
    The dispatch and listing figures did not move with the setting (dispatch measured with and without it).
- **Callbacks: the request line.** pino-http (a child logger per request, the request serialised with its headers and
  redacted) was 12–17 % of the API's CPU per callback, and as a Nest middleware it also ran Nest's middleware layer
  (@fastify/middie) for every request. Both services now apply nestjs-pino's middleware to no route: one Fastify hook
  (packages/observability, \`logRequests\`) writes every request's line, with the same message, request id, trace id,
  method, URL, status and response time, plus the caller's address, but no headers (the ones worth logging are bearer
  tokens, which would only be redacted); a pino \`mixin\` adds the request id to every line logged during a request,
  from the request's own context. Together with group commit, the API went from about 1,100 to 1,600–2,700
  callbacks/s at 50 and 100 connections.
- **Callbacks: at 10 connections, statements in flight.** Ten clients gave batches of two or three callbacks with up to
  4 statements in flight, so most callbacks paid a statement of their own: a commit, and the API's per-statement work
  (the \`pg\` query, its socket write, its row parsing). With 2 in flight, batches grow and each statement carries
  more: in ten alternating runs at 10 connections the API's CPU per callback went from 0.47 to 0.45 ms (median) and
  its share of the baseline's rate from 70 to 76 % (median), with no change at 50 and 100 connections beyond the
  noise. What the API still does that the baseline does not: the request's server span and AsyncLocalStorage
  context (Node 20's async hooks cost every promise), Nest's router, zod validation and the token hash; the largest
  single costs in its profile are the same as the baseline's (the socket writes of the answer and of the statement,
  12 % garbage collection). Generating span ids was 4–5 % of the API's CPU (a \`randomBytes\` call per id): ids are
  cut from a pooled random buffer (trace-context.ts).
- **Dispatch: waiting, not CPU.** A dispatch was about 13 sequential round trips: the task lookup, then two interactive
  transactions (BEGIN, count, insert, task update, COMMIT; BEGIN, update, update, read, read, task update, read,
  COMMIT). Creating the session (attempt number, row, task status, refused by the unique \`active_task_id\` index as
  before, mapped to the same 409) and recording the spawn's answer (orchestrator id, forward-only status through
  \`statusesThatMayMoveTo\`, task following) are now one statement each (session.repository.ts): three round trips
  in all. The p50 overhead went from 14.6 ms to 3.7 ms, and from 119 to 584 dispatches/s.
- **Dispatch: then CPU, on a slower machine.** On a day when a plain POST took 1.3–2.2 ms, the API spent 6.6–8.4 ms
  of CPU per dispatch (from /proc), most of a 9–12 ms dispatch. Timed inside the dispatcher: the task lookup
  1.5 ms, creating the session 1.7, the spawn call 2.6–2.9, recording its answer 1.7. Two changes, each measured
  against the build before it with both running side by side, their requests interleaved:
  - The statement that creates the session already updates the task; it now returns the task's columns too, so the
    dispatch needs no read of its own (a missing task still answers 404 from it): two database round trips, not
    three. −1.6 to −1.8 ms at p50, −1.5 ms of CPU.
  - The orchestrator client called axios through @nestjs/axios's Observable and \`firstValueFrom\`, which unsubscribes
    once the answer is in, and @nestjs/axios then cancels the finished request: a \`CanceledError\`, stack trace and
    all, for every call. It now awaits \`HttpService.axiosRef\`, axios's promise API: −0.4 ms at p50. Axios itself
    still costs about 0.7 ms per call more than Node's bare \`http.request\` on this machine.
  Together, side by side, the dispatch p50 went from 9.75 to 7.91 ms. Run alone before and after (the machine was
  faster for the second: a plain POST took 1.85, then 1.32 ms), the overhead went from 9.8 to 6.1 ms and the rate from
  203 to 398 dispatches/s.
- **Dispatch: what remains is waking up.** On a quieter day (a plain POST in 0.55–1.0 ms) the overhead was +2.5 to
  +3.9 ms, and the API's CPU was most of it: 2.3–3.5 ms per dispatch sent one at a time, against 1.6 ms per dispatch
  at 16 connections (650/s), for the same work: a process that has been idle runs slower for a while (cold caches, most likely), and a
  dispatch wakes the API four times (the request, each statement's answer, the spawn's answer) and PostgreSQL twice.
  PostgreSQL shows the same: a one-row \`INSERT\` over \`pg\` took 0.22–0.27 ms back to back, 0.45–0.50 ms after a 3 ms
  pause and 0.5–0.85 ms after a 10 ms one, and PostgreSQL's CPU per dispatch was 0.63–0.70 ms one at a time against
  0.51 ms under load. The profile of the rest is flat: Fastify and Nest's request path, axios, \`pg\`, the socket
  writes (about 0.35 ms for the four), none more than a few tenths of a millisecond. The three hops are the design
  (the session row exists before the spawn call; the answer is recorded before the reply); what is left to gain is
  in each hop's wake-up, not in one layer.
- **Listing** uses \`orchestrator_sessions_status_created_at_id_idx\` for the first page. A page after a cursor is bounded
  by the index too since the list adds a redundant \`created_at <= cursor\` to the keyset OR, which PostgreSQL
  otherwise applies only as a filter, reading every newer entry. The two sizes used to be measured one after the other,
  in one database grown from the small history to the large one; in one run the machine slowed between the two and the
  ratio read 2.04× (2.60 then 5.30 ms), against 0.65–0.92× in the runs before it. They are now interleaved.
- **Memory.** The idle API was about 190–225 MB resident: the V8 heap about 85 MB, the modules (Nest, swagger, terminus,
  class-validator, zod, Prisma's client) about 60 MB, and about 50 MB that appeared a second after start-up, V8
  recompiling Prisma's WebAssembly query compiler with its optimising tier in the background. main.ts turns that tier
  off (\`--liftoff-only\`, read when the module is compiled): idle RSS 164 MB, and Prisma's list query took the same
  0.43–0.50 ms either way. Under callback load the young generation grows to its 16 MB semi-spaces and pushes
  short-lived request garbage into the old space, which V8 collects lazily: 80–100 MB more after a run. The API now
  runs with \`--max-semi-space-size=4\` (the \`nodeArgs\` of apps/api/package.json, used by \`pnpm start\`, the tests and
  this benchmark): about 60 MB less after load, at a cost within this machine's noise. It was 2 MB until callbacks
  waited longer for their batch (2 statements in flight, above): then more of a request's objects outlived two
  young-generation collections and were promoted, and RSS after a run at 50 connections rose to 242–254 MB. With
  4 MB it was 200–217 MB in the same alternating runs. Paging through 100,000 sessions still peaked at 245–271 MB:
  V8 lets the old generation grow long before it collects it, and sizes that growth by the heap's limit. With
  \`--max-old-space-size=192\` (also in \`nodeArgs\`) the same paging peaked at 155–157 MB, as did 160 MB, and callbacks
  at 50 connections held 154–156 MB; the live heap is a fraction of that, so the limit leaves room.
- **Absolute figures moved with the machine.** The same build ran dispatch with a 3.7 ms p50 overhead in an earlier
  session, when a plain POST took 0.65 ms, and with 8.5 ms on the day a plain POST took 1.6–2.0 ms. This build
  measured +5.8 ms on a day a plain POST took 1.3 ms, and +2.5 to +3.9 ms on one it took 0.55–1.0 ms. Within one
  session the speed moves by half again from one minute to the next (the same API build's CPU per callback ranged
  from 0.35 to 0.75 ms across 5-second runs). Dispatch's goal is in milliseconds, not a ratio, so it follows the
  machine.

## Query plans (1,000,000 sessions)

First page:

\`\`\`
${listing.firstPagePlan}
\`\`\`

A page after a cursor 50,000 running sessions deep:

\`\`\`
${listing.deepPagePlan}
\`\`\`
`;
}

async function main(): Promise<void> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const server = await startDatabaseServer();
  const orchestrator = await StubOrchestrator.start();
  try {
    log('callback ingestion…');
    const ingestion = await withBenchDatabase(server, (url) => benchIngestion(url, orchestrator, log));
    log('dispatch…');
    const dispatch = await withBenchDatabase(server, (url) => benchDispatch(url, orchestrator));
    log('listing…');
    const listing = await withBenchDatabase(server, (small) =>
      withBenchDatabase(server, (large) => benchListing({ small, large }, orchestrator, log)),
    );
    const rows = [...ingestionRows(ingestion), ...dispatchRows(dispatch), ...listingRows(listing), ...memoryRows(ingestion, listing)];
    log(`\n${table(rows)}\n`);
    const file = path.join(REPO_ROOT, 'docs', 'performance.md');
    writeFileSync(file, report(rows, listing, ingestion, server.description));
    log(`written to ${path.relative(REPO_ROOT, file)}`);
  } finally {
    await orchestrator.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
