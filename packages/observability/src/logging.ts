import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { LevelWithSilent } from 'pino';
import { traceIdOfRequest } from './request-tracing';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Secrets that could reach a log line: bearer tokens (operator token, API key,
 * callback tokens) in request headers, cookies, and tokens or API keys in any
 * object logged. Request and response bodies are never logged at all.
 */
export const REDACTED_PATHS = [
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
 * Both services' logging: JSON lines from pino, one per request (when it
 * completes, with its request id (Fastify's, see `requestIdFor`) and trace id)
 * plus whatever the application logs, each carrying the request id of the
 * request it happened in.
 */
export function loggerParams(level: LogLevel): Params {
  return {
    pinoHttp: [
      {
        level,
        customAttributeKeys: { reqId: 'request_id' },
        // Lines logged during a request carry its id; the full request is on its own line once.
        quietReqLogger: true,
        customProps: (request: IncomingMessage) => {
          const traceId = traceIdOfRequest(request);
          return traceId === undefined ? {} : { trace_id: traceId };
        },
        customLogLevel: (_request, response, error) => requestLogLevel(response.statusCode, error),
        redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      },
      // Through process.stdout rather than pino's own file-descriptor writer: its
      // writes to a pipe or file are synchronous, so nothing logged before
      // process.exit() is lost, and whatever captures stdout sees every line.
      process.stdout,
    ],
  };
}

/** The level of a request's line: `error` when it failed on the server's side, else `info`. */
export function requestLogLevel(statusCode: number, error?: unknown): 'error' | 'info' {
  return error !== undefined || statusCode >= 500 ? 'error' : 'info';
}
