import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { OrchestratorMetrics } from './orchestrator-metrics';

/**
 * Times every answer, including those sent before any controller runs (the
 * API-key hook's 401, body-limit 413s): a Fastify `onResponse` hook sees them all.
 * Routes are labelled by pattern, so session ids do not become label values.
 */
@Injectable()
export class RequestMetricsHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: OrchestratorMetrics,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onResponse', (request, reply, done) => {
      this.metrics.requestServed(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
}
