import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ORCHESTRATOR_EVENT,
  type OrchestratorInstance,
  call,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  orchestratorSessions,
  query,
  sessionRows,
  settledAccount,
  waitForAllTerminal,
  waitUntil,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * A tiny agent, so that 1,000 of them cost little CPU: it waits for the gate to open (the test holds every slot until
 * all 1,000 sessions are queued), then reports progress, works a second and reports its result.
 */
function agentWaitingFor(gate: string): string {
  const progress = JSON.stringify({ type: 'progress', message: 'working', percent: 50 });
  const result = JSON.stringify({ type: 'result', exit_code: 0, summary: 'done' });
  return `until [ -e '${gate}' ]; do sleep 0.5; done; printf '%s\\n' '${progress}'; sleep 1; printf '%s\\n' '${result}'`;
}

/** Orchestrator events of each session: running, the progress report, the result, completed. */
const EVENTS_PER_SESSION = 4;

interface Restart {
  node: string;
  /** Sessions waiting in the cluster's queue when the node was told to stop. */
  queuedAtStop: number;
  stopMs: number;
  startMs: number;
  /** From the stop until the restarted node started an agent of a session it took from the queue. */
  backToWorkMs: number;
  stopAt: Date;
  startedAt: Date;
}

/**
 * 19. A rolling deploy: while 1,000 sessions drain through three nodes, each node in turn is stopped gracefully
 * (SIGTERM) and started again with its NODE_ID, the next one only once the previous one is back and taking work.
 * Every session must run once and complete once, whichever node's life it ended in.
 */
export const rollingDeploy: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const capacity = 20;
  const tasks = 1_000;
  const gate = join(await h.tempDir(), 'gate');
  const nodes = await h.cluster({
    nodes: 3,
    capacity,
    // The default retry budget, not the harness's 60 s: when the loaded machine stalls the API longer than the budget,
    // delivery gives up the first event of each session that started meanwhile (its `running`) and sends the rest later.
    env: { QUEUE_URL: undefined, MAX_QUEUED_SESSIONS: String(2 * tasks), CALLBACK_RETRY_MAX_MS: String(5 * 60_000) },
    agentCommand: agentWaitingFor(gate),
    // A node restarted while the other two drain the queue at full speed gets a small share of the CPU: loading alone can take it seconds.
    startTimeoutMs: 60_000,
  });
  const api = await h.api({
    databaseUrl,
    orchestratorUrl: nodes.map((node) => node.service.url).join(','),
    env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000', RECONCILE_STALE_AFTER_MS: '120000' },
  });
  // A start line is the agent's task file, under its node's work directory (`sessions-<index>/<session id>/task.json`).
  const startsOn = (node: OrchestratorInstance) =>
    node.starts().filter((line) => line.includes(`/sessions-${nodes.indexOf(node)}/`)).length;

  // Tasks created and dispatched 16 at a time, as a busy operator page or a script would.
  const dispatchStarted = performance.now();
  const answers: Awaited<ReturnType<typeof dispatch>>[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < tasks) {
        next += 1;
        answers.push(await dispatch(api, await createTask(api, { wave: 'rolling deploy' })));
      }
    }),
  );
  const dispatchSeconds = (performance.now() - dispatchStarted) / 1000;
  expect(answers.filter((answer) => answer.status !== 202).map((answer) => [answer.status, answer.body])).toEqual([]);
  const running = 3 * capacity;
  await waitUntil(
    'every slot taken, the rest queued',
    async () => (await queued(nodes[0])) === tasks - running && nodes.every((node) => startsOn(node) === capacity),
    60_000,
  );

  await writeFile(gate, '');
  const drainStarted = performance.now();
  const restarts: Restart[] = [];
  for (const node of nodes) {
    const queuedAtStop = await queued(node);
    const before = startsOn(node);
    const stopAt = new Date();
    const stopping = performance.now();
    // Graceful: the node exits by itself, well within the harness's 10 s before SIGKILL.
    expect(await node.service.stop()).toEqual({ code: 0, signal: null });
    const stopMs = Math.round(performance.now() - stopping);
    const startedAt = new Date();
    await node.restart();
    const startMs = Math.round(performance.now() - stopping) - stopMs;
    await waitUntil(`${node.nodeId} taking work again`, () => startsOn(node) > before, 60_000);
    restarts.push({
      node: node.nodeId,
      queuedAtStop,
      stopMs,
      startMs,
      backToWorkMs: Math.round(performance.now() - stopping),
      stopAt,
      startedAt,
    });
  }
  const rows = await waitForAllTerminal(databaseUrl, tasks, 240_000);
  const drainSeconds = (performance.now() - drainStarted) / 1000;

  expect(rows).toHaveLength(tasks);
  expect(rows.filter((row) => row.status !== 'completed').map((row) => [row.id, row.status, row.error])).toEqual([]);
  expect(new Set(rows.map((row) => row.task_id)).size).toBe(tasks);
  const taskStatuses = await query<{ status: string; n: number }>(
    databaseUrl,
    'SELECT status::text AS status, count(*)::int AS n FROM tasks GROUP BY status',
  );
  expect(taskStatuses).toEqual([{ status: 'completed', n: tasks }]);

  // One agent start per session, none started twice, none never started.
  const starts = nodes[0].starts().map((line) => /\/sessions-(\d+)\/([^/]+)\/task\.json$/.exec(line));
  expect(starts.filter((match) => match === null)).toEqual([]);
  const startedSessions = starts.map((match) => match![2]);
  expect(startedSessions).toHaveLength(tasks);
  expect(new Set(startedSessions).size).toBe(tasks);
  expect(new Set(rows.map((row) => row.orchestrator_session_id))).toEqual(new Set(startedSessions));

  // Each session's own events exactly once: one running, one progress, one result, one completed. Reconciliation may
  // have ended a quiet session from the orchestrator's status while its callbacks still wait out a backoff: they are
  // awaited, up to a minute, before they are counted.
  const eventsPerSession = () =>
    query<{ events: number; running: number; completed: number }>(
      databaseUrl,
      `SELECT count(*)::int AS events,
              count(*) FILTER (WHERE e.type = 'status' AND e.status = 'running')::int AS running,
              count(*) FILTER (WHERE e.type = 'status' AND e.status = 'completed')::int AS completed
         FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} GROUP BY e.session_id`,
    );
  const whole = (row: { events: number; running: number; completed: number }) =>
    row.events === EVENTS_PER_SESSION && row.running === 1 && row.completed === 1;
  await waitUntil("every session's events stored", async () => (await eventsPerSession()).filter(whole).length === tasks, 60_000).catch(
    () => undefined,
  );
  const perSession = await eventsPerSession();
  expect(perSession).toHaveLength(tasks);
  expect(perSession.filter((row) => !whole(row))).toEqual([]);
  expect((await sessionRows(databaseUrl)).filter((row) => row.last_sequence !== EVENTS_PER_SESSION)).toEqual([]);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  expect(account.sent).toBe(tasks * EVENTS_PER_SESSION);
  expect(await gappedSessions(databaseUrl)).toEqual([]);

  // Nothing left pending or running, as the orchestrator sees it either.
  const known = await orchestratorSessions(nodes[2]);
  expect(known).toHaveLength(tasks);
  expect(known.filter((session) => session.status !== 'completed')).toEqual([]);
  expect((await sessionRows(databaseUrl)).filter((row) => row.status !== 'completed')).toEqual([]);
  await h.assertNoAgentsLeft(10_000);

  // What became of the sessions each node ran when it was stopped (running before, completed after): ended by the old
  // life while it shut down, or adopted by the new one, which read how they ended or followed them to their end.
  const handovers: (Restart & { ended_before_exit: number; adopted: number })[] = [];
  for (const restart of restarts) {
    const [counts] = await query<{ ended_before_exit: number; adopted: number }>(
      databaseUrl,
      `SELECT count(*) FILTER (WHERE done.occurred_at < $3)::int AS ended_before_exit,
              count(*) FILTER (WHERE done.occurred_at >= $3)::int AS adopted
         FROM orchestrator_sessions s
         JOIN orchestrator_session_events run ON run.session_id = s.id AND run.type = 'status' AND run.status = 'running'
         JOIN orchestrator_session_events done ON done.session_id = s.id AND done.type = 'status' AND done.status = 'completed'
        WHERE s.node = $1 AND run.occurred_at < $2 AND done.occurred_at >= $2`,
      [restart.node, restart.stopAt, restart.startedAt],
    );
    expect(counts.ended_before_exit + counts.adopted).toBeGreaterThan(0);
    expect(restart.queuedAtStop).toBeGreaterThan(0);
    handovers.push({ ...restart, ...counts });
  }
  const perNode = [0, 1, 2].map((index) => starts.filter((match) => match![1] === String(index)).length);
  report({
    load: `${tasks} tasks created and dispatched through the API 16 at a time to 3 nodes of capacity ${capacity} (PostgreSQL queue store, the API pointed at all three); each agent held until all ${tasks} were queued (${running} running, ${tasks - running} pending), then a progress report, 1 s of work and a result`,
    faults:
      'rolling deploy: node-0, node-1, node-2 each stopped with SIGTERM and started again with its NODE_ID while the queue drained, each only once the previous one was back and starting agents',
    inputs: `${answers.length} dispatch calls`,
    ...eventFigures(account),
    notes: `${tasks} dispatched in ${dispatchSeconds.toFixed(1)} s (slowest dispatch answer ${Math.max(...answers.map((answer) => answer.ms))} ms); all ${tasks} sessions and tasks completed ${drainSeconds.toFixed(1)} s after the agents were let go; ${startedSessions.length} agent starts for ${tasks} sessions, none started twice (node-0 ${perNode[0]}, node-1 ${perNode[1]}, node-2 ${perNode[2]}); every session ${EVENTS_PER_SESSION} events, once each, no gaps; ${handovers
      .map(
        (restart) =>
          `${restart.node}: stopped with ${restart.ended_before_exit + restart.adopted} sessions running and ${restart.queuedAtStop} queued, in ${restart.stopMs} ms; healthy again ${restart.startMs} ms later, starting agents ${restart.backToWorkMs} ms after the stop; of the sessions it was running ${restart.ended_before_exit} ended in the old process while it shut down, ${restart.adopted} were adopted by the new one and completed there`,
      )
      .join('; ')}; nothing left pending or running; no agent process left.`,
  });
};

/** Sessions waiting in the cluster's queue, as a node reports them. */
async function queued(node: OrchestratorInstance): Promise<number> {
  return (await call<{ queued_sessions: number }>(node.service.url, 'GET', '/health')).body.queued_sessions;
}
