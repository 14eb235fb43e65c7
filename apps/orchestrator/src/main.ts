import 'reflect-metadata';
import { dirname } from 'node:path';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as PinoLogger } from 'nestjs-pino';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LIMITS } from '@mosaic/orchestrator-contract';
import {
  ConfigurationError,
  contractFrameworkErrors,
  drainUnreadBodies,
  refuseDeepBodies,
  requestTimeouts,
  unsupportedNodeMessage,
} from '@mosaic/http-kit';
import { AppModule } from './app.module';
import { ApiKeyGuard } from './auth/api-key.guard';
import { installApiKeyHook } from './auth/api-key.hook';
import { OrchestratorConfig } from './config/orchestrator-config';
import { setupOpenApi } from './openapi/openapi';
import { logRequests, requestIdFor, requestTracing } from '@mosaic/observability';
import { ClusterNode } from './cluster/cluster-node';
import { prepareWorkdirRoot } from './agents/workdir';
import { resolveQueueConnection } from './store/queue-connection';

/** Time allowed on top of SHUTDOWN_GRACE_MS for the server itself to close before the process exits regardless. */
const SHUTDOWN_MARGIN_MS = 5_000;

// JSON lines from the first one: until the application's pino logger takes
// over, Nest's own logger writes them.
Logger.overrideLogger(new ConsoleLogger({ json: true, colors: false }));
const logger = new Logger('Orchestrator');

function loadConfig(): OrchestratorConfig {
  try {
    return OrchestratorConfig.fromEnvironment(process.env);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    logger.error(error.message);
    process.exit(1);
  }
}

async function bootstrap(): Promise<void> {
  const unsupportedNode = unsupportedNodeMessage(process.version);
  if (unsupportedNode) {
    process.stderr.write(`${unsupportedNode}\n`);
    process.exit(1);
  }
  const config = loadConfig();
  // Before the application exists, like the configuration: a work directory another user could tamper with stops start-up.
  await prepareWorkdirRoot(config.sessionWorkdirRoot, config.agentUser);
  // The spools hold what agents printed and how they ended: only this user may touch them (agents included).
  await prepareWorkdirRoot(dirname(config.sessionSpoolDir), undefined, 'SESSION_SPOOL_ROOT');
  await prepareWorkdirRoot(config.sessionSpoolDir, undefined, 'SESSION_SPOOL_ROOT');
  // contractFrameworkErrors: what Fastify refuses before any route (a URL that is no UTF-8, an oversized request head) in the contract's error shape.
  // No connectionTimeout: a cancel's answer waits for its grace, up to 10 minutes, on a silent socket.
  const adapter = new FastifyAdapter({
    bodyLimit: LIMITS.spawnBodyMaxBytes,
    genReqId: requestIdFor,
    ...requestTimeouts(config.httpRequestTimeoutMs),
    ...contractFrameworkErrors,
  });
  drainUnreadBodies(adapter.getInstance());
  refuseDeepBodies(adapter.getInstance());
  // Before Nest adds its routes' hooks, so that every request has its trace and its line.
  requestTracing.install(adapter.getInstance());
  logRequests(adapter.getInstance());
  const queue = await resolveQueueConnection(config.queueStore, logger);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config, queue.connection), adapter, { bufferLogs: true });
  app.useLogger(app.get(PinoLogger));
  installApiKeyHook(app.getHttpAdapter().getInstance(), app.get(ApiKeyGuard));
  setupOpenApi(app, config.version);
  if (config.usesDevelopmentApiKey) {
    logger.warn('ORCHESTRATOR_API_KEY is not set: using the public development key. Set it to a secret before exposing this service.');
  }
  for (const name of config.developmentDefaults) {
    logger.warn(`${name} is not set: using the public development key. Set it to a secret before running sessions anyone else can reach.`);
  }

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: shutting down`);
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + SHUTDOWN_MARGIN_MS).unref();
    await app.close();
    await queue.close();
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (received) => void shutdown(received));

  const node = app.get(ClusterNode);
  // Before the server answers: a kill it answers must find the agents this node ran before a restart.
  await node.adopt();
  await app.listen({ port: config.port, host: config.host });
  logger.log(`listening on ${await app.getUrl()} (agent: ${config.agentCommand})`);
  node.join();
}

bootstrap().catch((error: unknown) => {
  logger.error(`start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
