import { liveDescendants, liveProcesses } from '../../support/process-table';
import {
  call,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  orchestratorStatus,
  query,
  settledAccount,
  waitForAllTerminal,
  waitUntil,
} from '../harness';
import type { ScenarioBody } from '../report';

/**
 * 13. Graceful cancels: an agent that exits on SIGTERM is gone well before its grace, one that ignores it at the
 * end of its grace; the whole tree is gone when the answer comes.
 */
export const cancelTiming: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator();
  const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: { RECONCILE_STALE_AFTER_MS: '60000' } });
  const measured: { what: string; graceMs: number; ms: number; tree: number }[] = [];
  // Each agent starts a child that starts a grandchild, all in the agent's process group, under the agent's supervisor: a tree of four.
  const cases = [
    {
      what: 'exits on SIGTERM',
      graceMs: 10_000,
      agent: { steps: 1, duration_ms: 170_000, children: 1 },
      line: 'sample agent: got SIGTERM, stopping',
    },
    {
      what: 'ignores SIGTERM',
      graceMs: 2_000,
      agent: { steps: 1, duration_ms: 170_000, children: 1, ignore_sigterm: true },
      line: 'sample agent: got SIGTERM, ignoring it as the task asked',
    },
  ];
  for (const { what, graceMs, agent, line } of cases) {
    const dispatched = await dispatch(api, await createTask(api, { sample_agent: agent }));
    expect(dispatched.status).toBe(202);
    const id = dispatched.body.session.id;
    const logged = (text: string) => async () =>
      (
        await query(
          databaseUrl,
          `SELECT 1 FROM orchestrator_session_events e WHERE session_id = $1 AND type = 'log' AND data->>'line' LIKE $2`,
          [id, `${text}%`],
        )
      ).length > 0;
    await waitUntil(`${what}: children started`, logged('started child processes'), 60_000);
    // The child starts the grandchild after the agent has logged the child's pid.
    await waitUntil(`${what}: grandchild started`, () => h.sampleAgentsOf(orchestrator.service).length === 4, 10_000);
    const tree = h.sampleAgentsOf(orchestrator.service);
    expect(tree).toHaveLength(4);
    const cancelled = await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${id}/cancel`, { grace_ms: graceMs });
    // The answer comes when the tree is gone: read the process table at once.
    const alive = liveProcesses().filter((info) => tree.includes(info.pid));
    expect([what, cancelled.status, cancelled.body.status]).toEqual([what, 200, 'cancelled']);
    expect(alive.map((info) => `${info.pid} ${info.command}`)).toEqual([]);
    expect(liveDescendants(orchestrator.service.pid)).toEqual([]);
    measured.push({ what, graceMs, ms: cancelled.ms, tree: tree.length });
    await waitUntil(`${what}: SIGTERM logged`, logged(line), 10_000);
  }
  const [clean, deaf] = measured;
  // Well before its 10 s grace: SIGTERM, a clean exit, and the callbacks on the way.
  expect(clean.ms).toBeLessThan(3_000);
  // The grace is waited for in full, then SIGKILL: 2 s ± 1 s.
  expect(deaf.ms).toBeGreaterThanOrEqual(1_000);
  expect(deaf.ms).toBeLessThanOrEqual(3_000);
  const rows = await waitForAllTerminal(databaseUrl, 2, 10_000);
  expect(rows.map((row) => row.status)).toEqual(['cancelled', 'cancelled']);
  for (const row of rows) expect((await orchestratorStatus(orchestrator, row.orchestrator_session_id!)).status).toBe('cancelled');
  const again = await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${rows[0].id}/cancel`, {});
  expect([again.status, again.body.status]).toEqual([200, 'cancelled']);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  await h.assertNoAgentsLeft(1_000);
  report({
    load: '2 running sessions, one after the other, each an agent with a child and a grandchild, under its supervisor',
    faults: 'graceful cancels through the API',
    inputs: '2 cancels (grace 10 s, grace 2 s) and 1 repeated cancel',
    ...eventFigures(account),
    notes: `${measured.map((entry) => `agent that ${entry.what}, grace ${entry.graceMs} ms: answered 200 cancelled in ${entry.ms} ms`).join('; ')} (bounds < 3000 ms and 2000 ± 1000 ms); at each answer none of the ${clean.tree} processes of the tree was alive in the process table; each agent logged the SIGTERM it got; a repeated cancel answered 200 cancelled.`,
  });
};
