import { Logger, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { serveWebPage } from './web-page';
import { webDistDirectory } from './web-dist';

/** The operators' web page (apps/web) at `/`. Without a build the API still starts, and `/` says how to get one. */
@Module({})
export class WebModule implements OnModuleInit {
  private readonly logger = new Logger(WebModule.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const dist = webDistDirectory();
    if (dist === undefined) this.logger.warn('the web page is not built (apps/web/dist): `/` answers 404 until `pnpm build` has run');
    serveWebPage(this.adapterHost.httpAdapter.getInstance<FastifyInstance>(), dist);
  }
}
