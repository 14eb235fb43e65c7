import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { freePort } from '../../support/service-process';
import { waitUntil, type SystemHarness } from '../harness';
import type { ScenarioBody } from '../report';
import { storeOutageMidLoad } from './store-outage';

/**
 * 16. A Redis on the default port may be shared and keep nothing on disk: this one is the scenario's own, persisting as
 * production would (every write in the append-only file before it is answered), so that what a SIGKILL leaves
 * is exactly what Redis had acknowledged.
 */
export const redisRestartedMidLoad: ScenarioBody = async (h, report) => {
  const redis = await dedicatedRedis(h);
  await storeOutageMidLoad(h, report, {
    name: 'Redis',
    env: { QUEUE_URL: redis.url },
    fault: 'Redis SIGKILLed (dedicated redis-server, appendonly yes, appendfsync always)',
    stop: () => redis.kill(),
    start: () => redis.start(),
  });
};

interface DedicatedRedis {
  url: string;
  start(): Promise<void>;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
}

async function dedicatedRedis(h: SystemHarness): Promise<DedicatedRedis> {
  const dir = await h.tempDir();
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: { process: ChildProcess; exited: Promise<unknown> } | undefined;
  const stop = async (signal: NodeJS.Signals) => {
    if (server === undefined) return;
    server.process.kill(signal);
    await server.exited;
    server = undefined;
  };
  const redis: DedicatedRedis = {
    url,
    start: async () => {
      const child = spawn(
        'redis-server',
        ['--bind', '127.0.0.1', '--port', String(port), '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', dir],
        {
          stdio: 'ignore',
        },
      );
      server = { process: child, exited: once(child, 'exit') };
      await waitUntil(`redis-server on port ${port} answers`, () => answers(url), 10_000);
    },
    kill: () => stop('SIGKILL'),
  };
  // Registered after its directory, so it runs before the directory is removed, and after every node has stopped.
  h.onCleanup(() => stop('SIGTERM'));
  await redis.start();
  return redis;
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
