import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { requestLogLevel, traceIdOfRequest } from '@mosaic/observability';
import { CALLBACK_ROUTE } from './callback-route';

/**
 * The callbacks' request lines. Callbacks come in volume, and pino-http's line
 * (a child logger per request, its headers serialised and redacted) was the
 * largest share of the API's CPU per callback (docs/performance.md), so the
 * request logger leaves this route out (app.module.ts) and this hook writes
 * its line instead: the same message, request id, trace id, method, URL,
 * status and response time, without the headers, which on a callback carry
 * nothing but the token.
 */
@Injectable()
export class CallbackRequestLog implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    let logger: Logger | undefined;
    fastify.addHook('onResponse', (request, reply, done) => {
      if (request.routeOptions.url === CALLBACK_ROUTE) {
        // pino-http's serializers expect the raw request and response; these lines hold their few fields already.
        logger ??= PinoLogger.root.child({}, { serializers: { req: asIs, res: asIs } });
        const traceId = traceIdOfRequest(request.raw);
        logger[requestLogLevel(reply.statusCode)](
          {
            request_id: request.id,
            ...(traceId === undefined ? {} : { trace_id: traceId }),
            req: { method: request.method, url: request.url },
            res: { statusCode: reply.statusCode },
            responseTime: Math.round(reply.elapsedTime),
          },
          'request completed',
        );
      }
      done();
    });
  }
}

const asIs = <T>(value: T): T => value;
