import type { FastifyHttpOptions, FastifyServerOptions } from 'fastify';
import type { Server } from 'node:http';

/** How often Node looks for requests past their timeout: a request is cut at most this long after its timeout. */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

/**
 * Fastify options that give a request `requestTimeoutMs` to arrive whole, head
 * and body (counted from its first byte; a connection's first request from the
 * connection's opening), answered `408` (see `contractFrameworkErrors`), and
 * close a kept-alive connection idle that long after an answer. Node checks the
 * first two only every connectionsCheckingInterval (30 s by default) and the
 * head's own timeout defaults to 60 s, and Fastify keeps idle sockets 72 s:
 * without these a trickled or idle connection lived up to a minute longer.
 */
export function requestTimeouts(
  requestTimeoutMs: number,
): Pick<FastifyServerOptions, 'requestTimeout' | 'keepAliveTimeout'> & Pick<FastifyHttpOptions<Server>, 'http'> {
  return {
    requestTimeout: requestTimeoutMs,
    http: {
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    keepAliveTimeout: requestTimeoutMs,
  };
}
