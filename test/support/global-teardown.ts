import { rm } from 'node:fs/promises';
import path from 'node:path';
import { writeReliabilityReportFrom } from '../system/report';
import { deleteEmbeddedPostgres } from '../../packages/embedded-postgres/src';
import { dropDatabase, withClient } from './database';
import type { TestDatabaseState } from './global-setup';

/**
 * Writes docs/reliability.md from what the system suite measured, if it ran,
 * drops the run's database and every further one tests created from it (their
 * names start with the run's), then stops and deletes the embedded server.
 */
export default async function globalTeardown(): Promise<void> {
  const state: TestDatabaseState | undefined = globalThis.__mosaicTestDatabase;
  if (!state) return;
  globalThis.__mosaicTestDatabase = undefined;
  try {
    writeReliabilityReportFrom(state.figures, path.join(__dirname, '..', '..', 'docs', 'reliability.md'));
  } finally {
    await rm(state.figures, { recursive: true, force: true });
  }
  try {
    const leftovers = await withClient(state.serverUrl, async (client) => {
      const { rows } = await client.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $1 || '_')",
        [state.runDatabase],
      );
      return rows.map((row) => row.datname);
    });
    for (const name of leftovers) await dropDatabase(state.serverUrl, name);
  } finally {
    await rm(state.spools, { recursive: true, force: true });
    if (state.embedded) {
      await state.embedded.stop();
      await deleteEmbeddedPostgres(state.embedded.dataDir);
    }
  }
}
