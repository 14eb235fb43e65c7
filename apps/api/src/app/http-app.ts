import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { CALLBACK_ROUTE, LIMITS, artifactCallbackMaxBytes } from '@mosaic/orchestrator-contract';
import { contractFrameworkErrors, drainUnreadBodies, refuseDeepBodies, requestTimeouts } from '@mosaic/http-kit';
import { logRequests, requestIdFor, requestTracing } from '@mosaic/observability';
import { AppModule } from './app.module';
import { ApiConfig } from '../config/api-config';
import { ErrorFilter } from '../http/error.filter';
import { createValidationPipe } from '../http/validation';
import { setupOpenApi } from '../openapi/openapi';

/**
 * Builds the API's HTTP application. Shared by main.ts and the tests, so that
 * what the tests exercise is what production serves.
 */
export async function createHttpApp(config: ApiConfig, options: { logger?: false } = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: LIMITS.spawnBodyMaxBytes,
    trustProxy: false,
    genReqId: requestIdFor,
    // Fastify waits forever by default: a client trickling its request would hold a socket and a body buffer.
    ...requestTimeouts(config.httpRequestTimeoutMs),
    // A socket silent for twice that while its answer is prepared (a dispatch may take its spawn's retries) is closed.
    connectionTimeout: 2 * config.httpRequestTimeoutMs,
    // What Fastify refuses before any route (a URL that is no UTF-8, an oversized request head) in the contract's error shape.
    ...contractFrameworkErrors,
  });
  const fastify = adapter.getInstance();
  drainUnreadBodies(fastify);
  // Only an artifact callback may be bigger than the contract's callback limit: the ingestion refuses any other
  // callback over LIMITS.callbackBodyMaxBytes, since the type is known only once the body is read.
  fastify.addHook('onRoute', (route) => {
    if (route.url === CALLBACK_ROUTE) route.bodyLimit = artifactCallbackMaxBytes(config.artifactMaxBytes);
  });

  refuseDeepBodies(fastify);

  // Before Nest adds its routes' hooks, so that every request has its trace and its line.
  requestTracing.install(fastify);
  logRequests(fastify);

  // `logger: false` (tests) silences the request log as well as Nest's own.
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(options.logger === false ? config.withLogLevel('silent') : config),
    adapter,
    // rawBody: a signed callback's signature covers its bytes as sent.
    { bufferLogs: true, rawBody: true },
  );
  app.useLogger(app.get(Logger));
  // Nest flushes the buffer by itself only in listen(); tests that only init() would never see what it held.
  app.flushLogs();
  app.useGlobalFilters(new ErrorFilter(app.getHttpAdapter()));
  app.useGlobalPipes(createValidationPipe());
  setupOpenApi(app);
  return app;
}
