import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, type HttpServer, Logger } from '@nestjs/common';
import { type ErrorBody, type ErrorCode, errorBody } from '@mosaic/orchestrator-contract';
import { AppError, fastifyErrorStatus } from '@mosaic/http-kit';
import { OrchestratorError } from '../orchestrator-gateway/orchestrator.errors';
import { RetryLaterError } from './retry-later.error';

interface HttpFailure {
  readonly status: number;
  readonly body: ErrorBody;
  /** Seconds for `Retry-After`, when the failure knows better than the default. */
  readonly retryAfterSeconds?: number;
}

/** What a 503 tells callers to wait when nothing more precise is known. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * The one place where errors become HTTP answers, in the contract's error shape.
 * Anything unexpected is logged here and answered as a bare 500: no stack trace
 * or internal message ever reaches the wire.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(ErrorFilter.name);

  /** Answers through the adapter: a middleware's failure comes with Node's raw response, a handler's with Fastify's reply. */
  constructor(private readonly httpAdapter: HttpServer) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const httpAdapter = this.httpAdapter;
    const response: unknown = host.switchToHttp().getResponse();
    const failure = toHttpFailure(exception);
    if (failure.status >= 500 && !(exception instanceof AppError)) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    if (failure.status === HttpStatus.SERVICE_UNAVAILABLE || failure.retryAfterSeconds !== undefined) {
      httpAdapter.setHeader(response, 'retry-after', String(failure.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS));
    }
    httpAdapter.reply(response, failure.body, failure.status);
  }
}

export function toHttpFailure(exception: unknown): HttpFailure {
  if (exception instanceof AppError) {
    return {
      status: statusOf(exception.code),
      body: errorBody(exception.code, exception.message, exception.details),
      ...retryAfterOf(exception),
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    return { status, body: errorBody(codeForStatus(status), httpExceptionMessage(exception)) };
  }
  const fastifyStatus = fastifyErrorStatus(exception);
  if (fastifyStatus !== undefined && fastifyStatus < 500) {
    return { status: fastifyStatus, body: errorBody(codeForStatus(fastifyStatus), (exception as Error).message) };
  }
  return { status: 500, body: errorBody('internal_error', 'internal error') };
}

/** The API's one mapping of error codes to HTTP statuses. */
function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'bad_request':
    case 'agent_unavailable':
      return 400;
    case 'unauthorized':
      return 401;
    case 'insufficient_scope':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'payload_too_large':
      return 413;
    case 'idempotency_key_reused':
    case 'task_context_too_large':
      return 422;
    case 'daily_budget_exhausted':
    case 'too_many_streams':
      return 429;
    case 'orchestrator_rejected':
      return 502;
    case 'orchestrator_unreachable':
    case 'orchestrator_circuit_open':
    case 'at_capacity':
    case 'queue_full':
    case 'queue_unavailable':
    case 'node_unreachable':
    case 'database_unavailable':
    case 'shutting_down':
      return 503;
    case 'orchestrator_timeout':
      return 504;
    case 'internal_error':
      return 500;
  }
}

/** A full orchestrator queue passes on the orchestrator's own Retry-After (whole seconds, at least one); a RetryLaterError its own. */
function retryAfterOf(exception: AppError): { retryAfterSeconds?: number } {
  if (exception instanceof RetryLaterError) return { retryAfterSeconds: exception.retryAfterSeconds };
  if (!(exception instanceof OrchestratorError) || exception.retryAfterMs === undefined) return {};
  return { retryAfterSeconds: Math.max(1, Math.ceil(exception.retryAfterMs / 1000)) };
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    default:
      return status >= 500 ? 'internal_error' : 'bad_request';
  }
}

function httpExceptionMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : exception.message;
}
