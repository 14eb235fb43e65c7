import type { Logger } from '@nestjs/common';
import { startEmbeddedPostgres } from '@mosaic/embedded-postgres';
import type { QueueStoreConfig } from '../config/orchestrator-config';

/** The queue store the cluster shares, once an embedded PostgreSQL (if that is the choice) has been started. */
export interface QueueConnection {
  readonly kind: 'redis' | 'postgres';
  readonly url: string;
  /** Every key (Redis) or schema (PostgreSQL) of this cluster starts with it. */
  readonly prefix: string;
}

export interface ResolvedQueueConnection {
  readonly connection: QueueConnection;
  /** Stops the embedded PostgreSQL, if one was started. */
  close(): Promise<void>;
}

/** Without QUEUE_URL or ORCHESTRATOR_DATABASE_URL, a node runs on its own embedded PostgreSQL: `pnpm start` needs nothing installed. */
export async function resolveQueueConnection(store: QueueStoreConfig, logger: Pick<Logger, 'log'>): Promise<ResolvedQueueConnection> {
  if (store.kind !== 'embedded-postgres') return { connection: store, close: async () => undefined };
  logger.log(
    `neither QUEUE_URL nor ORCHESTRATOR_DATABASE_URL is set: starting the embedded PostgreSQL in ${store.dataDir} on port ${store.port}`,
  );
  const embedded = await startEmbeddedPostgres({
    dataDir: store.dataDir,
    port: store.port,
    database: 'orchestrator',
    log: (line) => logger.log(line),
  });
  return { connection: { kind: 'postgres', url: embedded.url, prefix: store.prefix }, close: () => embedded.stop() };
}
