import { STATUS_CODES } from 'node:http';
import type { ConnectionError, FastifyServerOptions } from 'fastify';
import { errorBody } from '@mosaic/orchestrator-contract';
import { answerBeforeBody, answerThenClose } from './unread-body';

/** Fastify's router refuses, before any route runs, a path segment longer than this. */
const MAX_PARAM_LENGTH = 100;

/** How long a connection whose request head could not be read stays half open for the client to read its answer. */
const CLIENT_ERROR_LINGER_MS = 2_000;

/**
 * Fastify options that answer in the contract's error shape what Fastify
 * refuses before a route, and with it the service's exception filter, ever
 * sees the request. Fastify's own answers carry `error` as a string:
 * - `frameworkErrors`: a path whose percent-encoding is no UTF-8 (400), a path
 *   segment longer than the router takes (414);
 * - `clientErrorHandler`: what Node refuses while it reads the request head:
 *   a head over its size limit (431), a head that did not arrive in time (408),
 *   bytes that are no HTTP (400). As Fastify does, nothing is written to a
 *   connection already gone, and the connection is closed after the answer.
 * Either way the answer is not overtaken by the reset that closing a connection
 * with request bytes unread sends: see `unread-body.ts`.
 */
export const contractFrameworkErrors: Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> = {
  // Written on the raw response, as Fastify writes its own: no route, and so no reply schema, applies.
  frameworkErrors(error, request, reply) {
    const status = error.statusCode ?? 500;
    const message =
      error.code === 'FST_ERR_BAD_URL'
        ? 'the URL is not valid: a percent-encoded part of it is no UTF-8'
        : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? `a segment of the URL path is longer than ${MAX_PARAM_LENGTH} characters`
          : error.message;
    const body = JSON.stringify(status >= 500 ? errorBody('internal_error', 'internal error') : errorBody('bad_request', message));
    answerBeforeBody(request.raw, reply.raw);
    reply.raw.writeHead(status >= 500 ? 500 : status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    reply.raw.end(body);
  },
  clientErrorHandler(error: ConnectionError, socket) {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request head (request line and headers) is too large']
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'the request did not arrive in time']
          : [400, 'the request is not valid HTTP'];
    const body = JSON.stringify(errorBody('bad_request', message));
    if (!socket.writable) {
      socket.destroy(error);
      return;
    }
    answerThenClose(
      socket,
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
      CLIENT_ERROR_LINGER_MS,
    );
  },
};

/**
 * The status Fastify's own errors (unparsable JSON, a body over the limit) and our hooks' refusals (a body nested
 * too deep) carry as `statusCode`; Nest hands them to the exception filter as they are.
 */
export function fastifyErrorStatus(exception: unknown): number | undefined {
  if (!(exception instanceof Error)) return undefined;
  const status = (exception as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}
