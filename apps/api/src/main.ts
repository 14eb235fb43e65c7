import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ApiConfig, ConfigurationError } from './config/api-config';
import { resolveDatabase } from './database/default-database';
import { createHttpApp } from './http/http-app';

async function bootstrap(): Promise<void> {
  const logger = new Logger('api');
  const config = ApiConfig.fromEnvironment(process.env);
  for (const name of config.developmentDefaults) {
    logger.warn(`${name} is not set: using a development value. Set it before exposing this service.`);
  }

  const database = await resolveDatabase(config, logger);
  let app;
  try {
    app = await createHttpApp(database.config);
  } catch (error) {
    await database.close();
    throw error;
  }
  // Nest's shutdown hooks close the app (and its pool) on SIGTERM/SIGINT; the
  // HTTP server closes last, and with it the embedded PostgreSQL nothing uses any more.
  app.getHttpAdapter().getInstance().addHook('onClose', () => database.close());
  await app.listen(database.config.port, database.config.host);
  logger.log(`listening on http://${database.config.host}:${database.config.port}`);
}

bootstrap().catch((error: unknown) => {
  // Configuration mistakes are the operator's to fix: the message names the variable, a stack adds nothing.
  const message = error instanceof ConfigurationError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  new Logger('api').error(`start-up failed: ${message}`);
  process.exit(1);
});
