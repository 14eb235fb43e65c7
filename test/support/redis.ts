import { Redis } from 'ioredis';

const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

/** The machine's Redis, if one answers on its default port. */
export async function reachableRedis(): Promise<string | undefined> {
  const client = new Redis(LOCAL_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG' ? LOCAL_REDIS_URL : undefined;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/** Deletes every key of one test's cluster (QUEUE_PREFIX), so the shared Redis keeps nothing of it. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for (let cursor = '0'; ;) {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await client.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    client.disconnect();
  }
}

/** Which queue stores a cluster test runs on: always PostgreSQL, and Redis where one answers (TEST_REDIS_URL). */
export function queueStoresUnderTest(): { name: 'postgres' | 'redis'; env: Record<string, string | undefined> }[] {
  const redis = process.env.TEST_REDIS_URL;
  return [{ name: 'postgres', env: { QUEUE_URL: undefined } }, ...(redis ? [{ name: 'redis' as const, env: { QUEUE_URL: redis } }] : [])];
}
