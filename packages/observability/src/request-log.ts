import type { FastifyInstance } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { traceIdOfRequest } from './request-tracing';

/**
 * One line per request, written once its answer has gone out: request id,
 * trace id, method, URL, caller's address, status and response time. No
 * headers: the ones that matter to an operator are bearer tokens, which would
 * only be redacted. It takes the place of pino-http's line (see `loggerParams`),
 * whose child logger per request and serialised, redacted headers were the
 * largest share of the API's CPU per callback (docs/performance.md).
 */
export function logRequests(fastify: FastifyInstance): void {
  // The application's logger exists once Nest has built the logger module, after this hook is installed.
  let logger: Logger | undefined;
  fastify.addHook('onResponse', (request, reply, done) => {
    // The root logger came from pino-http, whose serializers expect the raw request and response.
    logger ??= PinoLogger.root.child({}, { serializers: { req: asIs, res: asIs } });
    const traceId = traceIdOfRequest(request.raw);
    // `error` when the request failed on the server's side.
    logger[reply.statusCode >= 500 ? 'error' : 'info'](
      {
        request_id: request.id,
        ...(traceId === undefined ? {} : { trace_id: traceId }),
        req: { method: request.method, url: request.url, remoteAddress: request.ip },
        res: { statusCode: reply.statusCode },
        responseTime: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
    done();
  });
}

const asIs = <T>(value: T): T => value;
