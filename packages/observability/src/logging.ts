import type { Params } from 'nestjs-pino';
import type { LevelWithSilent } from 'pino';
import { currentRequestId } from './request-tracing';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Secrets that could reach a log line: bearer tokens (operator token, API key,
 * callback tokens) in request headers, cookies, and tokens or API keys in any
 * object logged. Request and response bodies are never logged at all.
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'callback_token',
  '*.callback_token',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'api_key',
  '*.api_key',
];

/**
 * Both services' logging: JSON lines from pino, each carrying the request id of
 * the request it was written in (from the request's context, see
 * `requestTracing`), plus one line per request written by `logRequests`.
 *
 * nestjs-pino bridges Nest's logger to pino; its pino-http middleware is not
 * applied to any route (`forRoutes: []`, its documented switch), because the
 * request line and the request id come from Fastify hooks that cost a fraction
 * of a middleware run through Nest's middleware layer for every request.
 */
export function loggerParams(level: LogLevel): Params {
  return {
    pinoHttp: [
      {
        level,
        mixin: () => {
          const requestId = currentRequestId();
          return requestId === undefined ? {} : { request_id: requestId };
        },
        redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      },
      // Through process.stdout rather than pino's own file-descriptor writer: its
      // writes to a pipe or file are synchronous, so nothing logged before
      // process.exit() is lost, and whatever captures stdout sees every line.
      process.stdout,
    ],
    forRoutes: [],
  };
}
