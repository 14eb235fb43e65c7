import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { CALLBACK_EVENT_TYPES, CALLBACK_ROUTE } from '@mosaic/orchestrator-contract';
import { ApiMetrics } from '../metrics/api-metrics';

/**
 * Counts every answer of the callback route, the ones no controller code sees
 * included (a 413 from the body limit, a 401 from the token guard): a Fastify
 * `onResponse` hook sees them all.
 */
@Injectable()
export class CallbackMetricsHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: ApiMetrics,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onResponse', (request, reply, done) => {
      if (request.routeOptions.url === CALLBACK_ROUTE) this.metrics.callbackAnswered(eventType(request.body), reply.statusCode);
      done();
    });
  }
}

/** Only the contract's types become label values: the body may come from anyone, and labels must stay few. */
function eventType(body: unknown): string {
  const type = typeof body === 'object' && body !== null ? (body as { type?: unknown }).type : undefined;
  return (CALLBACK_EVENT_TYPES as readonly unknown[]).includes(type) ? (type as string) : 'unknown';
}
