import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import type { SystemHarness } from './harness';

export interface ScenarioFigures {
  scenario: string;
  load: string;
  faults: string;
  inputs: string;
  sent: number;
  stored: number;
  lost: number;
  duplicated: number;
  /** Further figures worth reading next to the table (bounds, timings). */
  notes: string;
  seconds: number;
  passed: boolean;
}

/** What a scenario reports; the runner adds its name, time and outcome. */
export type Figures = Omit<ScenarioFigures, 'scenario' | 'seconds' | 'passed'>;

/** A scenario's body: it gets its own harness (own database, own services) and reports its figures once it has passed. */
export type ScenarioBody = (h: SystemHarness, report: (values: Figures) => void) => Promise<void>;

/** Writes the reliability report: one row per scenario that ran, with the machine and date. */
function writeReliabilityReport(path: string, rows: readonly ScenarioFigures[]): void {
  const cell = (value: string | number) => String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    '# Reliability under faults, load and hostile input',
    '',
    'Written by the system suite (`test/system/`, run by `pnpm test`, or alone with',
    '`NODE_OPTIONS=--experimental-vm-modules npx jest --selectProjects system`) from what it measured:',
    'real PostgreSQL, the built orchestrator, built API processes, real agent processes,',
    'faults injected by a loopback proxy (`test/support/fault-proxy.ts`) or by killing processes.',
    '',
    `Machine: ${cpus().length} cores (${cell(cpus()[0]?.model ?? 'unknown CPU')}), Node ${process.version}, ${process.platform}. Date: ${new Date().toISOString()}.`,
    '',
    '"Sent" counts distinct callback events (`event_id`) the orchestrator put on the wire, as the',
    'recording proxy in front of each API saw them; "stored" counts rows in `orchestrator_session_events`;',
    '"lost" = sent but not stored; "duplicated" = stored rows beyond one per (session, sequence).',
    'Scenario 10 sends no orchestrator events: its "sent" and "stored" are the hostile requests and the rows they changed.',
    'Scenarios 11, 12, 14 and 16–19 run a cluster of three orchestrator nodes behind one API, the others a single node; the queue',
    'store is PostgreSQL except in scenario 14 (Redis, which runs only where a Redis answers: TEST_REDIS_URL) and 16 (a',
    'redis-server of its own, with an append-only file, so that it can be killed and restarted). Scenario 20, like 10, counts hostile requests.',
    '',
    '| # | scenario | load held | faults injected | inputs tried | events sent | stored | lost | duplicated | result | time (s) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (row, index) =>
        `| ${numberOf(row, index)} | ${[row.scenario.replace(/^\d+\.\s*/, ''), row.load, row.faults, row.inputs, row.sent, row.stored, row.lost, row.duplicated, row.passed ? 'pass' : 'FAIL', row.seconds.toFixed(1)].map(cell).join(' | ')} |`,
    ),
    '',
    '## Notes per scenario',
    '',
    ...rows.map((row, index) => `${numberOf(row, index)}. **${cell(row.scenario.replace(/^\d+\.\s*/, ''))}**: ${cell(row.notes)}`),
    '',
  ];
  writeFileSync(path, lines.join('\n'));
}

/** A scenario's own number ("11. …"), so that a scenario left out (Redis absent) does not renumber the others. */
function numberOf(row: ScenarioFigures, index: number): string {
  return /^(\d+)\./.exec(row.scenario)?.[1] ?? String(index + 1);
}

/**
 * Writes the report from the figures each system spec file left in `folder` (scenario.ts), in the
 * scenarios' order; nothing when no scenario ran.
 */
export function writeReliabilityReportFrom(folder: string, path: string): void {
  const rows = readdirSync(folder)
    .filter((name) => name.endsWith('.json'))
    .flatMap((name) => JSON.parse(readFileSync(join(folder, name), 'utf8')) as ScenarioFigures[]);
  if (rows.length === 0) return;
  const order = (row: ScenarioFigures) => Number(/^(\d+)\./.exec(row.scenario)?.[1] ?? Number.MAX_SAFE_INTEGER);
  writeReliabilityReport(
    path,
    [...rows].sort((a, b) => order(a) - order(b)),
  );
}
