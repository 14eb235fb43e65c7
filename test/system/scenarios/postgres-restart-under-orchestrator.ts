import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../packages/embedded-postgres/src';
import { freePort } from '../../support/service-process';
import type { ScenarioBody } from '../report';
import { storeOutageMidLoad } from './store-outage';

/**
 * 17. The cluster's queue store is a PostgreSQL of its own (the API keeps the run's), so that stopping it takes
 * away the orchestrator's store alone.
 */
export const postgresRestartedUnderOrchestrator: ScenarioBody = async (h, report) => {
  const dataDir = join(await h.tempDir(), 'postgres');
  const port = await freePort();
  let postgres: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ dataDir, port });
  // Registered after its directory, so it runs before the directory is removed, and after every node has stopped.
  h.onCleanup(async () => postgres?.stop());
  await storeOutageMidLoad(h, report, {
    name: 'PostgreSQL',
    env: { QUEUE_URL: undefined, ORCHESTRATOR_DATABASE_URL: postgres.url },
    fault: "the store's PostgreSQL stopped (dedicated embedded server, fast shutdown)",
    stop: async () => {
      await postgres?.stop();
      postgres = undefined;
    },
    start: async () => {
      postgres = await startEmbeddedPostgres({ dataDir, port });
    },
  });
};
