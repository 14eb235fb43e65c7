import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sampleValue } from '../../support/metrics-text';
import {
  ORCHESTRATOR_EVENT,
  SAMPLE_AGENT,
  call,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  orchestratorCall,
  query,
  settledAccount,
  shellQuote,
  waitForAllTerminal,
  waitUntil,
} from '../harness';
import type { ScenarioBody } from '../report';

const VICTIMS = 20;
const ATTACKERS = 3;
const ROUNDS = 5;
/** What each forged usage record claims: far past every victim's budget, and past the day's ceiling per session. */
const FORGED_COST_USD = 1_000;

/**
 * An attacker, run as the orchestrator's own user (AGENT_USER unset): for ROUNDS rounds, for every other session of
 * its node, appends forged usage and progress records to its latest spool segment (plain, and behind a made-up MAC),
 * writes kill requests to its stop file (making it if need be), and signals its supervisor; it prints how many of each it did. Any other
 * task runs the sample agent.
 */
function agentScript(spoolRoot: string): string {
  const usage = JSON.stringify({ type: 'usage', input_tokens: 1, output_tokens: 1, cost_usd: FORGED_COST_USD });
  const progress = JSON.stringify({ type: 'progress', message: 'forged progress' });
  return `#!/bin/sh
if ! grep -q '"role":"attacker"' "$MOSAIC_TASK_FILE"; then exec ${shellQuote(process.execPath)} ${shellQuote(SAMPLE_AGENT)}; fi
usage=${shellQuote(usage)}
progress=${shellQuote(progress)}
records=0; stops=0; signals=0
for round in $(seq ${ROUNDS}); do
  for dir in ${shellQuote(spoolRoot)}/*/*/; do
    case "$dir" in *"/$MOSAIC_SESSION_ID/") continue ;; esac
    segment=$(ls "$dir"spool.* 2>/dev/null | tail -n 1)
    if [ -n "$segment" ]; then
      now=$(date +%s)000
      for body in "$((9000 + round)) $now O $usage" "$((9100 + round)) $now O $progress"; do
        printf '%s\n' "$body" >> "$segment" && records=$((records + 1))
        printf '%s %s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$body" >> "$segment" && records=$((records + 1))
      done
    fi
    printf 'kill\n%s kill\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> "$dir"stop && stops=$((stops + 1))
    if [ -e "$dir"identity ] && kill -USR1 "$(cut -d' ' -f1 "$dir"identity)" 2>/dev/null; then signals=$((signals + 1)); fi
  done
  sleep 0.5
done
echo "forged $records records, $stops stop requests, $signals signals"
`;
}

/**
 * 22. Issue 38, finding 2, through the API: agents of the orchestrator's own user forge usage and progress records
 * into every other session's spool and ask its supervisor to stop, while 20 sessions with budgets run. No forged
 * record becomes an event, no victim is stopped or cancelled for a budget, the day's spend is the victims' own, and
 * every real event is stored once.
 */
export const forgingAgents: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const dir = await h.tempDir();
  const script = join(dir, 'agent.sh');
  const spoolRoot = join(dir, 'spools');
  await writeFile(script, agentScript(spoolRoot), { mode: 0o700 });
  const orchestrator = await h.orchestrator({
    agentCommand: `sh ${shellQuote(script)}`,
    env: { AGENT_USER: undefined, SESSION_SPOOL_ROOT: spoolRoot },
  });
  const api = await h.api({ databaseUrl, orchestratorUrl: orchestrator.service.url, env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000' } });

  // Victims: the sample agent, 40 steps 250 ms apart with a usage report each, within a budget of $50.
  const victimTasks: string[] = [];
  for (let index = 0; index < VICTIMS; index++) {
    victimTasks.push(await createTask(api, { sample_agent: { steps: 40, step_ms: 250 } }, { budget: { max_cost_usd: 50 } }));
  }
  const victimAnswers = await Promise.all(victimTasks.map((taskId) => dispatch(api, taskId)));
  expect(victimAnswers.map((answer) => answer.status)).toEqual(Array(VICTIMS).fill(202));
  await waitUntil(
    'every victim running',
    async () =>
      (await query<{ n: number }>(databaseUrl, `SELECT count(*)::int AS n FROM orchestrator_sessions WHERE status = 'running'`))[0]!.n ===
      VICTIMS,
    30_000,
  );

  const attackerTasks: string[] = [];
  for (let index = 0; index < ATTACKERS; index++) attackerTasks.push(await createTask(api, { role: 'attacker' }));
  const attackerAnswers = await Promise.all(attackerTasks.map((taskId) => dispatch(api, taskId)));
  expect(attackerAnswers.map((answer) => answer.status)).toEqual(Array(ATTACKERS).fill(202));

  const rows = await waitForAllTerminal(databaseUrl, VICTIMS + ATTACKERS, 120_000);
  expect(rows.filter((row) => row.status !== 'completed').map((row) => [row.id, row.status, row.error])).toEqual([]);

  // What the attackers did, from their own log lines.
  const said = await query<{ line: string }>(
    databaseUrl,
    `SELECT e.data->>'line' AS line FROM orchestrator_session_events e WHERE e.type = 'log' AND e.data->>'line' LIKE 'forged %'`,
  );
  expect(said).toHaveLength(ATTACKERS);
  const done = said.map((row) => /^forged (\d+) records, (\d+) stop requests, (\d+) signals$/.exec(row.line)!.slice(1).map(Number));
  const [records, stops, signals] = [0, 1, 2].map((field) => done.reduce((sum, counts) => sum + counts[field]!, 0));
  expect(records).toBeGreaterThan(0);
  expect(stops).toBeGreaterThan(0);

  // Nothing forged became an event; every victim's usage is the sample agent's own, and so is the day's spend.
  const forged = await query<{ n: number }>(
    databaseUrl,
    `SELECT count(*)::int AS n FROM orchestrator_session_events e
      WHERE (e.type = 'progress' AND e.data->>'message' = 'forged progress') OR (e.type = 'usage' AND (e.data->>'cost_usd')::numeric >= $1)`,
    [FORGED_COST_USD],
  );
  expect(forged[0]!.n).toBe(0);
  const spent = await query<{ cost: string }>(databaseUrl, 'SELECT COALESCE(sum(cost_usd), 0)::text AS cost FROM orchestrator_sessions');
  const today = await call<{ cost_usd: number }>(api.service.url, 'GET', '/usage/today');
  expect(today.body.cost_usd).toBeCloseTo(Number(spent[0]!.cost), 6);
  expect(today.body.cost_usd).toBeLessThan(FORGED_COST_USD);

  const perSession = await query<{ n: number }>(
    databaseUrl,
    `SELECT count(*)::int AS n FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT} GROUP BY session_id`,
  );
  expect(perSession).toHaveLength(VICTIMS + ATTACKERS);
  expect(await gappedSessions(databaseUrl)).toEqual([]);
  const account = await settledAccount(databaseUrl, [api.callbacks]);
  expectNothingLost(account);
  const metrics = await orchestratorCall<string>(orchestrator, 'GET', '/metrics');
  const rejected = sampleValue(metrics.text, 'orchestrator_spool_records_rejected_total') ?? 0;
  expect(rejected).toBeGreaterThan(0);
  await h.assertNoAgentsLeft(10_000);
  report({
    load: `${VICTIMS} sessions of the sample agent (40 steps 250 ms apart, a usage report each, a budget of $50) and ${ATTACKERS} attacking agents, all of the orchestrator's own user (AGENT_USER unset), on one node`,
    faults: `each attacker, ${ROUNDS} rounds 0.5 s apart, for every other session: appends forged usage ($${FORGED_COST_USD}) and progress records to its latest spool segment, plain and behind a made-up MAC; writes kill requests to its stop file; signals its supervisor`,
    inputs: `${records} forged records, ${stops} forged stop requests, ${signals} signals to supervisors`,
    ...eventFigures(account),
    notes: `0 forged events stored; all ${VICTIMS} victims completed, none stopped or cancelled for a budget; the day's spend ($${today.body.cost_usd.toFixed(4)}) is the sessions' own; the node dropped ${rejected} records that failed their MAC (orchestrator_spool_records_rejected_total).`,
  });
};
