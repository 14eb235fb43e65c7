import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { setTimeout as sleep } from 'node:timers/promises';

const IDLE_CHECK_MS = 50;

/**
 * Closes the API in the order that lets work in progress finish: first the
 * HTTP server stops taking connections (Fastify answers requests arriving on
 * open keep-alive connections with 503) and in-flight requests, callbacks
 * among them, get up to `graceMs` to complete, their connections cut after
 * that; only then does Nest close the application: the reconciliation loop
 * stops, waiting for a run in progress, and the database pool closes.
 *
 * Nest's own shutdown hooks would run the other way round (module destroy
 * hooks, the pool's among them, before the HTTP server closes), failing
 * in-flight requests on a closed pool.
 */
export async function closeGracefully(app: NestFastifyApplication, graceMs: number, logger: LoggerService): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  const closed = fastify.close();
  // A keep-alive connection goes idle when its last request ends, and the
  // server closes only once every connection has: idle ones are cut as they
  // appear rather than waiting for their clients to hang up.
  const cutIdle = setInterval(() => fastify.server.closeIdleConnections(), IDLE_CHECK_MS);
  const drained = await Promise.race([closed.then(() => true), sleep(graceMs, false, { ref: false })]).finally(() =>
    clearInterval(cutIdle),
  );
  if (!drained) {
    logger.warn(`requests still in flight after SHUTDOWN_GRACE_MS (${graceMs} ms): closing their connections`);
    fastify.server.closeAllConnections();
    await closed;
  }
  await app.close();
}
