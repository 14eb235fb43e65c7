import type { Provider } from '@nestjs/common';
import { OrchestratorConfig } from '../config/orchestrator-config';
import type { QueueConnection } from './queue-connection';
import { PostgresSessionStore } from './postgres-session-store';
import { RedisSessionStore } from './redis-session-store';
import { SESSION_STORE, type SessionStore } from './session-store';
import { StoreSecrets } from './store-secrets';

/** The store on the queue's own server: one Redis or one PostgreSQL holds everything the cluster shares. */
export function sessionStoreProvider(connection: QueueConnection): Provider<Promise<SessionStore>> {
  return {
    provide: SESSION_STORE,
    inject: [OrchestratorConfig],
    useFactory: (config: OrchestratorConfig) => {
      const secrets = new StoreSecrets(config.storeSecretsKey, config.storeSecretsPreviousKey);
      return connection.kind === 'redis'
        ? RedisSessionStore.connect({ url: connection.url, prefix: `${connection.prefix}:orchestrator:`, secrets })
        : PostgresSessionStore.connect({ connectionString: connection.url, schema: `${connection.prefix}_orchestrator`, secrets });
    },
  };
}
