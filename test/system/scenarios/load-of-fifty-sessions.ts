import {
  ORCHESTRATOR_EVENT,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  query,
  settledAccount,
  waitForAllTerminal,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 8. Load: 50 sessions of 200 events each at once, every event stored once and in sequence.
 */
export const loadOfFiftySessions: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  // A progress line every 5 ms is over the default 20 a second, at which only the latest would be sent: this is load, not a chatty agent.
  const orchestrator = await h.orchestrator({ env: { LOG_LINES_PER_SECOND: '1000' } });
  // 50 agents starting at once: spawn answers may take seconds.
  const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000' } });
  const sessions = 50;
  const eventsPerSession = 200;
  // status running + 1 log line + 98 steps of a progress and a usage report + result + status completed.
  const steps = (eventsPerSession - 4) / 2;
  const taskIds: string[] = [];
  for (let index = 0; index < sessions; index++) taskIds.push(await createTask(api, { sample_agent: { steps, step_ms: 5 } }));
  const started = performance.now();
  const answers = await Promise.all(taskIds.map((taskId) => dispatch(api, taskId)));
  expect(answers.map((answer) => answer.status)).toEqual(Array(sessions).fill(202));

  const rows = await waitForAllTerminal(databaseUrl, sessions, 150_000);
  const seconds = (performance.now() - started) / 1000;
  expect(rows.map((row) => row.status)).toEqual(Array(sessions).fill('completed'));
  expect(rows.map((row) => row.last_sequence)).toEqual(Array(sessions).fill(eventsPerSession));
  const perSession = await query<{ n: number; ordered: boolean }>(
    databaseUrl,
    `SELECT count(*)::int AS n,
            array_agg(sequence ORDER BY sequence) = array_agg(sequence ORDER BY id) AS ordered
       FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} GROUP BY session_id`,
  );
  expect(perSession.map((row) => row.n)).toEqual(Array(sessions).fill(eventsPerSession));
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  expect(account.sent).toBe(sessions * eventsPerSession);
  const inArrivalOrder = perSession.filter((row) => row.ordered).length;
  await h.assertNoAgentsLeft(10_000);
  report({
    load: `${sessions} concurrent sessions × ${eventsPerSession} events`,
    faults: 'none (load only)',
    inputs: `${account.deliveries} callback deliveries`,
    ...eventFigures(account),
    notes: `all sessions completed with last_sequence ${eventsPerSession}; ${inArrivalOrder} of ${sessions} sessions stored in arrival order equal to sequence order; ${(account.stored / seconds).toFixed(0)} events/s stored end to end (dispatch to last terminal status ${seconds.toFixed(1)} s, through the recording proxy).`,
  });
};
