import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LIMITS } from '@mosaic/orchestrator-contract';
import { AppModule } from '../app.module';
import { ApiConfig } from '../config/api-config';
import { ErrorFilter } from './error.filter';
import { createValidationPipe } from './validation';

const CALLBACK_ROUTE_PREFIX = '/orchestrator/callbacks/';

/**
 * Builds the API's HTTP application. Shared by main.ts and the tests, so that
 * what the tests exercise is what production serves.
 */
export async function createHttpApp(config: ApiConfig, options: { logger?: false } = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: LIMITS.spawnBodyMaxBytes, trustProxy: false });
  const fastify = adapter.getInstance();
  // Callbacks are small and come in volume: they get the contract's tighter limit.
  fastify.addHook('onRoute', (route) => {
    if (route.url.startsWith(CALLBACK_ROUTE_PREFIX)) route.bodyLimit = LIMITS.callbackBodyMaxBytes;
  });

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: options.logger,
  });
  app.useGlobalFilters(new ErrorFilter());
  app.useGlobalPipes(createValidationPipe());
  app.enableShutdownHooks();
  return app;
}
