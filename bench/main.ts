import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { StubOrchestrator } from '../test/support/stub-orchestrator';
import { DISPATCH_WARM_UP_SECONDS, LATENCY_SAMPLES, THROUGHPUT_CONCURRENCY, benchDispatch, type DispatchResult } from './dispatch';
import {
  INGESTION_ROUNDS,
  INGESTION_ROUND_SECONDS,
  SIGNED_CONCURRENCY,
  WARM_UP_SECONDS,
  benchIngestion,
  type IngestionResult,
} from './ingestion';
import { benchListing, type ListingResult } from './listing';
import { CHURN_SESSIONS, RUNNING_SESSIONS, benchOrchestratorMemory, type OrchestratorMemoryResult } from './orchestrator-memory';
import { AGENT_SECONDS, QUEUE_CAPACITY, QUEUE_NODES, QUEUE_SESSIONS, WARM_UP_SESSIONS, benchQueue, type QueueStoreResult } from './queue';
import { EVENTS_PER_SECOND, STREAMED_SESSIONS, STREAM_CLIENTS, benchStreams, type StreamsResult } from './streams';
import { SUPERVISOR_ROUNDS, benchSupervisor, type SupervisorResult } from './supervisor';
import { REPO_ROOT, round, startDatabaseServer, withBenchDatabase } from './support';
import { WORKSPACE_BYTES_CALLS, WORKSPACE_FILES, WORKSPACE_ROUNDS, benchWorkspace, type WorkspaceResult } from './workspace';

const REPORT_FILE = path.join(REPO_ROOT, 'docs', 'performance.md');
/** The report's hand-written notes start at this line; a run rewrites only what is above it. */
const NOTES_START = '<!-- Written by hand from here on: pnpm bench keeps it. -->';

const MEMORY_LIMIT_MB = 250;
const STREAM_MEMORY_LIMIT_MB = 200;
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

/** Callbacks' rate against the bare baseline, per concurrency (issue 21): group commit lets the API beat one INSERT per request. */
const THROUGHPUT_GOALS: Readonly<Record<number, number>> = { 10: 0.85, 50: 1, 100: 1 };
const P99_GOAL = 1.5;
/** The API's p99 against the floor's (a table with only a primary key), at the concurrency the issue names. */
const FLOOR_P99_GOAL = { concurrency: 20, ratio: 2 } as const;
const SIGNED_GOAL = 0.9;

function ingestionRows(result: IngestionResult): Row[] {
  const rows: Row[] = result.points.flatMap((point) => {
    const throughput = point.api.requestsPerSecond / point.baseline.requestsPerSecond;
    const p99 = point.api.p99Ms / point.baseline.p99Ms;
    const floorThroughput = point.api.requestsPerSecond / point.floor.requestsPerSecond;
    const floorP99 = point.api.p99Ms / point.floor.p99Ms;
    const throughputGoal = THROUGHPUT_GOALS[point.concurrency];
    const floorP99Goal = point.concurrency === FLOOR_P99_GOAL.concurrency ? FLOOR_P99_GOAL.ratio : undefined;
    return [
      {
        figure: `callbacks, ${point.concurrency} connections: req/s`,
        measured: `${Math.round(point.api.requestsPerSecond)}`,
        baseline: `${Math.round(point.baseline.requestsPerSecond)}`,
        ratio: `${round(throughput * 100)} %`,
        goal: throughputGoal === undefined ? '' : `≥ ${throughputGoal * 100} %`,
        met: (throughputGoal === undefined || throughput >= throughputGoal) && point.api.failed === 0,
      },
      {
        figure: `callbacks, ${point.concurrency} connections: p99 (p50)`,
        measured: `${point.api.p99Ms} ms (${point.api.p50Ms})`,
        baseline: `${point.baseline.p99Ms} ms (${point.baseline.p50Ms})`,
        ratio: `${round(p99, 2)}×`,
        goal: `≤ ${P99_GOAL}×`,
        met: p99 <= P99_GOAL,
      },
      {
        figure: `callbacks, ${point.concurrency} connections, against the floor (primary key only): req/s; p99 (p50)`,
        measured: `${Math.round(point.api.requestsPerSecond)}; ${point.api.p99Ms} ms (${point.api.p50Ms})`,
        baseline: `${Math.round(point.floor.requestsPerSecond)}; ${point.floor.p99Ms} ms (${point.floor.p50Ms})`,
        ratio: `${round(floorThroughput * 100)} %; ${round(floorP99, 2)}×`,
        goal: floorP99Goal === undefined ? '' : `p99 < ${floorP99Goal}×`,
        met: floorP99Goal === undefined || floorP99 < floorP99Goal,
      },
    ];
  });
  const signed = result.signed.signed.requestsPerSecond / result.signed.unsigned.requestsPerSecond;
  rows.push({
    figure: `callbacks signed (Standard Webhooks) against unsigned, ${SIGNED_CONCURRENCY} connections: req/s; p99`,
    measured: `${Math.round(result.signed.signed.requestsPerSecond)}; ${result.signed.signed.p99Ms} ms`,
    baseline: `${Math.round(result.signed.unsigned.requestsPerSecond)}; ${result.signed.unsigned.p99Ms} ms`,
    ratio: `${round(signed * 100)} %`,
    goal: `≥ ${SIGNED_GOAL * 100} %`,
    met: signed >= SIGNED_GOAL && result.signed.signed.failed === 0,
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

/** The dispatch's p50 overhead over a plain POST, as a multiple of the plain POST's p50 (issue 21: a ratio, not milliseconds). */
const DISPATCH_OVERHEAD_GOAL = 3;

function dispatchRows(result: DispatchResult): Row[] {
  const overhead = result.dispatchP50Ms - result.plainP50Ms;
  const overheadRatio = overhead / result.plainP50Ms;
  const floorOverhead = result.floorP50Ms - result.plainP50Ms;
  return [
    {
      figure: 'dispatch: p50 (overhead over a plain POST)',
      measured: `${round(result.dispatchP50Ms, 2)} ms (+${round(overhead, 2)})`,
      baseline: `${round(result.plainP50Ms, 2)} ms`,
      ratio: `overhead ${round(overheadRatio, 1)}×`,
      goal: `overhead ≤ ${DISPATCH_OVERHEAD_GOAL}× the plain POST`,
      met: overheadRatio <= DISPATCH_OVERHEAD_GOAL,
    },
    {
      figure: 'dispatch, the floor (a row, the spawn, its answer recorded; nothing else): p50 (overhead over a plain POST)',
      measured: `${round(result.floorP50Ms, 2)} ms (+${round(floorOverhead, 2)})`,
      baseline: `${round(result.plainP50Ms, 2)} ms`,
      ratio: `overhead ${round(floorOverhead / result.plainP50Ms, 1)}×`,
      goal: '',
      met: true,
    },
    {
      figure: 'dispatch against the floor: p50 (what the API adds to the construction)',
      measured: `${round(result.dispatchP50Ms, 2)} ms`,
      baseline: `${round(result.floorP50Ms, 2)} ms`,
      ratio: `${round(result.dispatchP50Ms / result.floorP50Ms, 2)}× (+${round(result.dispatchP50Ms - result.floorP50Ms, 2)} ms)`,
      goal: '',
      met: true,
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
      met:
        result.sessionsRecorded >= result.dispatchesAccepted &&
        result.sessionsRecorded - result.dispatchesAccepted <= THROUGHPUT_CONCURRENCY,
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

function queueRows(results: readonly QueueStoreResult[]): Row[] {
  return results.flatMap((result) => {
    const ratio = result.drainMs / result.idealMs;
    return [
      {
        figure: `queue, ${result.store}: ${QUEUE_SESSIONS} × ${AGENT_SECONDS} s agents on ${QUEUE_NODES} nodes × ${QUEUE_CAPACITY}, first spawn → last end`,
        measured: `${round(result.drainMs / 1000, 2)} s (${result.completed} completed)`,
        baseline: `${round(result.idealMs / 1000, 2)} s (ideal)`,
        ratio: `${round(ratio, 2)}×`,
        goal: '≤ 1.3×',
        met: ratio <= 1.3 && result.completed === QUEUE_SESSIONS,
      },
      {
        figure: `queue, ${result.store}: slot freed → next queued agent running, p50 (p95)`,
        // None waited when the spawns came slower than the slots freed: nothing to measure then.
        measured:
          result.queuedStarts === 0 ? 'none queued' : `${Math.round(result.slotToStartP50Ms)} ms (${Math.round(result.slotToStartP95Ms)})`,
        baseline: `${result.queuedStarts} queued starts`,
        ratio: '',
        goal: 'p50 ≤ 50 ms',
        met: result.slotToStartP50Ms <= 50,
      },
    ];
  });
}

function supervisorRows(result: SupervisorResult): Row[] {
  const ratio = result.supervisedStartP50Ms / result.directStartP50Ms;
  return [
    {
      figure: `agent start under its supervisor: spawn → first line read, p50 (p95), ${SUPERVISOR_ROUNDS} starts`,
      measured: `${round(result.supervisedStartP50Ms, 2)} ms (${round(result.supervisedStartP95Ms, 2)})`,
      baseline: `${round(result.directStartP50Ms, 2)} ms (${round(result.directStartP95Ms, 2)}) spawned directly`,
      ratio: `${round(ratio, 2)}×`,
      goal: '≤ 1.3×',
      met: ratio <= 1.3,
    },
    {
      figure: 'agent start: event loop held by the spawn, p50',
      measured: `${round(result.supervisedBlockP50Ms, 2)} ms`,
      baseline: `${round(result.directBlockP50Ms, 2)} ms spawned directly`,
      ratio: `${round(result.supervisedBlockP50Ms / result.directBlockP50Ms, 2)}×`,
      goal: '',
      met: true,
    },
    {
      figure: 'supervisor resident memory while its agent runs, median',
      measured: `${round(result.supervisorRssMb, 2)} MB`,
      baseline: '',
      ratio: '',
      goal: '',
      met: true,
    },
  ];
}

/** WORKSPACE_MAX_BYTES is checked every few seconds for each running session: one check must stay well under that. */
const WORKSPACE_BYTES_GOAL_MS = 100;

function workspaceRows(result: WorkspaceResult): Row[] {
  return [
    {
      figure: `workspace of a ${WORKSPACE_FILES.toLocaleString('en')}-file repository: second session's prepare (first's, with the mirror clone), p50 of ${WORKSPACE_ROUNDS}`,
      measured: `${Math.round(result.secondPrepareP50Ms)} ms`,
      baseline: `${Math.round(result.firstPrepareP50Ms)} ms`,
      ratio: `${round(result.secondPrepareP50Ms / result.firstPrepareP50Ms, 2)}×`,
      goal: '',
      met: true,
    },
    {
      figure: "workspace: objects (packs, loose) in the second sessions' own stores",
      measured: `${result.objectsCopied}`,
      baseline: `${Math.round(result.mirrorObjectsKib)} KiB in the mirror`,
      ratio: '',
      goal: '0: borrowed',
      met: result.objectsCopied === 0,
    },
    {
      figure: 'workspace: collect after a one-file change (commit, changes.patch, changes.json), p50',
      measured: `${Math.round(result.collectP50Ms)} ms`,
      baseline: '',
      ratio: '',
      goal: '',
      met: true,
    },
    {
      figure: 'workspace: its size for WORKSPACE_MAX_BYTES (du -sk), p50',
      measured: `${round(result.bytesP50Ms, 1)} ms`,
      baseline: `${Math.round(result.workspaceKib)} KiB measured`,
      ratio: '',
      goal: `≤ ${WORKSPACE_BYTES_GOAL_MS} ms`,
      met: result.bytesP50Ms <= WORKSPACE_BYTES_GOAL_MS,
    },
  ];
}

function streamRows(result: StreamsResult): Row[] {
  const without = result.withoutClients.requestsPerSecond / result.baseline.requestsPerSecond;
  const withClients = result.withClients.requestsPerSecond / result.baseline.requestsPerSecond;
  const points = Math.round((without - withClients) * 100);
  return [
    {
      figure: `streams: callback 202 → event at all its followers, ${STREAM_CLIENTS} clients on ${STREAMED_SESSIONS} sessions, ${EVENTS_PER_SECOND} events/s: p99 (p50)`,
      measured: `${round(result.deliveryP99Ms, 1)} ms (${round(result.deliveryP50Ms, 1)})`,
      baseline: '',
      ratio: '',
      goal: 'p99 ≤ 100 ms',
      met: result.deliveryP99Ms <= 100,
    },
    {
      figure: 'streams: events some follower never received',
      measured: `${result.eventsMissed} of ${result.eventsSent}`,
      baseline: '',
      ratio: '',
      goal: '0',
      met: result.eventsMissed === 0,
    },
    {
      figure: `streams: callbacks req/s at 50 connections with ${STREAM_CLIENTS} clients following (without)`,
      measured: `${Math.round(result.withClients.requestsPerSecond)} (${Math.round(result.withoutClients.requestsPerSecond)})`,
      baseline: `${Math.round(result.baseline.requestsPerSecond)}`,
      ratio: `${round(withClients * 100)} % (${round(without * 100)} %)`,
      goal: 'at most 10 points below',
      met: points <= 10 && result.withClients.failed === 0,
    },
    {
      figure: `streams: API RSS after two identical callback runs with ${STREAM_CLIENTS} clients`,
      measured: `${Math.round(result.apiRssMb.afterRun1)} MB, then ${Math.round(result.apiRssMb.afterRun2)} MB`,
      baseline: '',
      ratio: `${result.apiRssMb.afterRun2 >= result.apiRssMb.afterRun1 ? '+' : ''}${Math.round(result.apiRssMb.afterRun2 - result.apiRssMb.afterRun1)} MB`,
      goal: `< ${STREAM_MEMORY_LIMIT_MB} MB, no growth`,
      met:
        Math.max(result.apiRssMb.afterRun1, result.apiRssMb.afterRun2) < STREAM_MEMORY_LIMIT_MB &&
        result.apiRssMb.afterRun2 - result.apiRssMb.afterRun1 <= MEMORY_GROWTH_TOLERANCE_MB,
    },
  ];
}

const ORCHESTRATOR_MEMORY_LIMIT_MB = 150;

function orchestratorMemoryRows(result: OrchestratorMemoryResult): Row[] {
  const growth = result.afterSecondThousandMb - result.afterFirstThousandMb;
  return [
    {
      figure: `orchestrator RSS, ${RUNNING_SESSIONS} sessions running (idle)`,
      measured: `${Math.round(result.rssWith200RunningMb)} MB (${Math.round(result.idleMb)})`,
      baseline: '',
      ratio: '',
      goal: `< ${ORCHESTRATOR_MEMORY_LIMIT_MB} MB`,
      met: result.rssWith200RunningMb < ORCHESTRATOR_MEMORY_LIMIT_MB,
    },
    {
      figure: `orchestrator RSS after ${CHURN_SESSIONS / 2} short sessions, then after ${CHURN_SESSIONS}`,
      measured: `${Math.round(result.afterFirstThousandMb)} MB, then ${Math.round(result.afterSecondThousandMb)} MB (${result.completed} completed)`,
      baseline: '',
      ratio: `${growth >= 0 ? '+' : ''}${Math.round(growth)} MB`,
      goal: 'no growth',
      met: growth <= MEMORY_GROWTH_TOLERANCE_MB && result.completed === CHURN_SESSIONS,
    },
    {
      figure: `orchestrator RSS, ${RUNNING_SESSIONS} sessions running again after the ${CHURN_SESSIONS}`,
      measured: `${Math.round(result.rssWith200RunningAfterChurnMb)} MB (${result.killed} killed)`,
      baseline: '',
      ratio: '',
      goal: `< ${ORCHESTRATOR_MEMORY_LIMIT_MB} MB`,
      met: result.rssWith200RunningAfterChurnMb < ORCHESTRATOR_MEMORY_LIMIT_MB && result.killed === 2 * RUNNING_SESSIONS,
    },
  ];
}

function table(rows: Row[]): string {
  const lines = ['| figure | Mosaic API | baseline | ratio | goal | met |', '| --- | --- | --- | --- | --- | --- |'];
  for (const row of rows)
    lines.push(
      `| ${row.figure} | ${row.measured} | ${row.baseline} | ${row.ratio} | ${row.goal} | ${row.goal === '' ? '' : row.met ? 'yes' : '**no**'} |`,
    );
  return lines.join('\n');
}

function report(rows: Row[], listing: ListingResult, ingestion: IngestionResult, database: string): string {
  const cpu = cpus();
  return `# Performance

Written by \`pnpm bench\` (bench/main.ts) on ${new Date().toISOString()}: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown'}),
${Math.round(totalmem() / 2 ** 30)} GiB, ${database}, Node ${process.version}. The machine is shared and
noisy, so what counts is the ratio against the baseline measured in the same run, not the absolute figures.
What profiling found, and what was changed because of it, is in the notes at the end, written by hand.

${table(rows)}

## How it is measured

- **Callbacks.** ${ingestion.points.length} concurrency levels against the built API and, in the same run, a bare Fastify
  route (bench/baseline-server.ts, same Fastify, a \`pg\` pool of 10 like the API's) doing one plain \`INSERT\` of the same
  event row into the events table (its unique index, foreign key and notification trigger fire as for the API), and the
  same route inserting into a stricter floor: a copy of the table with only a primary key, the cost of the write alone.
  All three are separate processes on the same fresh database. The API gets valid tokens for 1,000 running sessions,
  unique event ids and per-session sequence numbers; one event in ten is a \`status\` event, the rest progress and log lines.
  Each side is first warmed up for ${WARM_UP_SECONDS} s at 10 connections (V8 optimises the API's longer request path later
  than the baseline's). At each level the sides take turns, ${INGESTION_ROUNDS} runs of ${INGESTION_ROUND_SECONDS} s each (the order rotating from round
  to round), so that a drift in the machine's speed hits all: req/s is the mean of a side's runs, p50 and p99 are
  its median run's. Signed callbacks: 1,000 more sessions whose callbacks must carry a Standard Webhooks signature, each
  request signed by the load generator with the session's secret, against the unsigned sessions on the same API,
  ${INGESTION_ROUNDS} alternating runs each at ${SIGNED_CONCURRENCY} connections. Lost = answered 202 but not in the database; duplicated = stored twice,
  or answered \`duplicate: true\` for an event sent once. The database may hold a few more events than were answered: requests
  still in flight when a run ends.
- **Dispatch.** \`POST /tasks/:id/dispatch\` against a stub orchestrator on loopback, compared with a plain POST of the same
  spawn body to the same stub, and with the floor: a bare route (bench/baseline-server.ts) that writes a row, sends that spawn
  to the same stub and records its answer before replying. p50 from ${LATENCY_SAMPLES} requests of each kind one at a time, the three
  interleaved, after ${DISPATCH_WARM_UP_SECONDS} s of the same, as the callbacks are warmed up; req/s from 8 s at ${THROUGHPUT_CONCURRENCY} connections.
- **Listing.** \`GET /orchestrator/sessions?status=running&limit=50\` with 1,000 sessions and 10 events each, and with
  1,000,000 sessions (one in ten running), each seeded with \`generate_series\` and analysed in a database of its own and
  served by an API process of its own; p50 of 300 requests to each, one at a time, the two sizes interleaved.
- **Queue.** ${QUEUE_SESSIONS} spawns of agents running \`sleep ${AGENT_SECONDS}\` (bench/queue.ts), sent by 8 concurrent clients taking
  ${QUEUE_NODES} orchestrator nodes in turn, each node with MAX_CONCURRENT_SESSIONS ${QUEUE_CAPACITY}; callbacks go to a loopback receiver
  answering 202, after a warm-up of ${WARM_UP_SESSIONS} sessions (one per slot) through the same cluster, drained before the
  measured run starts (the first sessions of a fresh cluster pay for cold caches and the store's first query plans: a first
  run right after the machine booted measured 1.45× and 115 ms on PostgreSQL, the three runs after it 1.20–1.24× and 26–45 ms). Run once on the PostgreSQL queue store (a fresh database on the benchmark server) and once on Redis
  (127.0.0.1:6379, a key prefix of its own, deleted afterwards). The drain is from just before the first spawn to the
  last session's \`ended_at\`, against the ideal ${QUEUE_SESSIONS} / ${QUEUE_NODES * QUEUE_CAPACITY} × ${AGENT_SECONDS} s. Slot → start: on each node, its k-th
  agent start (k ≥ ${QUEUE_CAPACITY}, in the order of the sessions' \`running\` events) took the slot freed by the node's (k − ${QUEUE_CAPACITY})-th
  session end (\`ended_at\`, in end order); for each session created before that end (so it waited in the queue), the
  figure is its \`running\` event's timestamp minus that end. Both times come from the store's clock.
- **Supervisor.** ${SUPERVISOR_ROUNDS} agent starts (\`echo ready; exec sleep 30\`) under a per-session supervisor (SupervisedAgent.start:
  the supervisor binary spawned detached, its identity file awaited, the first line read from its spool) alternating with
  ${SUPERVISOR_ROUNDS} spawned directly by the benchmark (\`shell: true\`, detached, read from the pipe), as the orchestrator did before; from
  the spawn call to the first line, and how long the spawn call itself holds the event loop. RSS: the supervisor's VmRSS.
- **Workspace.** A repository of ${WORKSPACE_FILES.toLocaleString('en')} small files in 100 nested directories, one commit, served by
  \`file://\` (bench/workspace.ts). ${WORKSPACE_ROUNDS} rounds, each on a node with an empty repository cache: the first session's
  prepareWorkspace (the mirror's \`git clone --mirror\`, then the session's \`--shared\` clone and checkout), then a second
  session's (a \`git fetch\` into the mirror, then its clone and checkout), whose own object store is then counted; one file
  of the second workspace changed and collectArtifacts timed; workspaceBytes on it ${WORKSPACE_BYTES_CALLS} times a round.
- **Orchestrator memory.** VmRSS of one orchestrator node from /proc (capacity ${RUNNING_SESSIONS}, PostgreSQL store, callbacks to a
  loopback receiver answering 202), read 2 s after each phase has settled, the higher of two readings; no forced garbage
  collection. ${RUNNING_SESSIONS} agents running at once, killed through the API; ${CHURN_SESSIONS} agents that exit at once, spawned
  ${CHURN_SESSIONS / 2} at a time by 8 clients; then ${RUNNING_SESSIONS} running again.
- **Memory.** VmRSS of the API process from /proc: after two identical 8 s callback runs at 50 connections, and after paging
  twice through 100,000 sessions 100 at a time by \`next_cursor\` (the API serving 1,000,000 sessions).

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

function handWrittenNotes(): string {
  const text = readFileSync(REPORT_FILE, 'utf8');
  const start = text.indexOf(NOTES_START);
  if (start === -1) throw new Error(`${REPORT_FILE} has no line ${NOTES_START}: its hand-written notes would be lost`);
  return text.slice(start);
}

const BENCHMARKS = ['ingestion', 'dispatch', 'listing', 'queue', 'supervisor', 'streams', 'orchestrator-memory', 'workspace'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

/** `bench/main.ts [name…]`: the named benchmarks only, or all of them. */
function selectedBenchmarks(args: readonly string[]): Set<Benchmark> {
  const unknown = args.filter((arg) => !(BENCHMARKS as readonly string[]).includes(arg));
  if (unknown.length > 0) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}: choose from ${BENCHMARKS.join(', ')}`);
  return new Set(args.length === 0 ? BENCHMARKS : (args as Benchmark[]));
}

async function main(): Promise<void> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const selected = selectedBenchmarks(process.argv.slice(2));
  // Only a run of every benchmark rewrites the report: a partial one would drop the others' rows.
  const writesReport = selected.size === BENCHMARKS.length;
  // Read first: a report that cannot keep its notes should fail before minutes of measuring, not after.
  const notes = writesReport ? handWrittenNotes() : '';
  const server = await startDatabaseServer();
  const orchestrator = await StubOrchestrator.start();
  try {
    const rows: Row[] = [];
    let ingestion: IngestionResult | undefined;
    let listing: ListingResult | undefined;
    if (selected.has('ingestion')) {
      log('callback ingestion…');
      ingestion = await withBenchDatabase(server, (url) => benchIngestion(url, orchestrator, log));
      rows.push(...ingestionRows(ingestion));
    }
    if (selected.has('dispatch')) {
      log('dispatch…');
      rows.push(...dispatchRows(await withBenchDatabase(server, (url) => benchDispatch(url, orchestrator))));
    }
    if (selected.has('listing')) {
      log('listing…');
      listing = await withBenchDatabase(server, (small) =>
        withBenchDatabase(server, (large) => benchListing({ small, large }, orchestrator, log)),
      );
      rows.push(...listingRows(listing));
    }
    if (ingestion && listing) rows.push(...memoryRows(ingestion, listing));
    if (selected.has('queue')) {
      log('queue…');
      rows.push(...queueRows(await benchQueue(server, log)));
    }
    if (selected.has('supervisor')) {
      log('supervisor…');
      rows.push(...supervisorRows(await benchSupervisor(log)));
    }
    if (selected.has('streams')) {
      log('streams…');
      rows.push(...streamRows(await withBenchDatabase(server, (url) => benchStreams(url, orchestrator, log))));
    }
    if (selected.has('orchestrator-memory')) {
      log('orchestrator memory…');
      rows.push(...orchestratorMemoryRows(await benchOrchestratorMemory(server, log)));
    }
    if (selected.has('workspace')) {
      log('workspace…');
      rows.push(...workspaceRows(await benchWorkspace(log)));
    }
    log(`\n${table(rows)}\n`);
    if (writesReport && ingestion && listing) {
      writeFileSync(REPORT_FILE, `${report(rows, listing, ingestion, server.description)}\n${notes}`);
      log(`written to ${path.relative(REPO_ROOT, REPORT_FILE)}`);
    }
  } finally {
    await orchestrator.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
