import type { Provider } from '@nestjs/common';
import type { QueueConnection } from './queue-connection';
import { PostgresSessionStore } from './postgres-session-store';
import { RedisSessionStore } from './redis-session-store';
import { SESSION_STORE, type SessionStore } from './session-store';

/** The store on the queue's own server: one Redis or one PostgreSQL holds everything the cluster shares. */
export function sessionStoreProvider(connection: QueueConnection): Provider<Promise<SessionStore>> {
  return {
    provide: SESSION_STORE,
    useFactory: () =>
      connection.kind === 'redis'
        ? RedisSessionStore.connect({ url: connection.url, prefix: `${connection.prefix}:orchestrator:` })
        : PostgresSessionStore.connect({ connectionString: connection.url, schema: `${connection.prefix}_orchestrator` }),
  };
}
