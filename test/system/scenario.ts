import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { withOutputOf } from '../support/service-process';
import { SystemHarness } from './harness';
import type { Figures, ScenarioBody, ScenarioFigures } from './report';

/** The figures of every scenario that ran in this file, in order; `recordFigures` hands them to the report. */
const figures: ScenarioFigures[] = [];

/**
 * The system suite is several files, each run in a Jest module registry of its own: each leaves its
 * figures in the run's figures folder, and the global teardown writes docs/reliability.md from all of them.
 */
export function recordFigures(file: string): void {
  afterAll(() => {
    const folder = process.env.MOSAIC_TEST_FIGURES;
    if (folder && figures.length > 0) writeFileSync(join(folder, `${basename(file)}.json`), JSON.stringify(figures));
  });
}

/**
 * Runs one scenario on its own harness (own database, own services), records
 * its figures for docs/reliability.md and tears everything down, also on
 * failure. Scenarios run one after another: each is sized to load the machine alone.
 */
export function scenario(name: string, body: ScenarioBody): void {
  it(name, async () => {
    const h = new SystemHarness();
    const started = performance.now();
    let values: Figures = { load: '', faults: '', inputs: '', sent: 0, stored: 0, lost: 0, duplicated: 0, notes: '' };
    let passed = false;
    try {
      await body(h, (reported) => (values = reported));
      passed = true;
    } catch (error) {
      throw withOutputOf(h.services, error, 6_000);
    } finally {
      figures.push({ scenario: name, ...values, seconds: (performance.now() - started) / 1000, passed });
      await h.cleanup();
    }
  });
}
