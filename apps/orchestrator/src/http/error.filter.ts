import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { errorBody, type ErrorCode } from '@mosaic/orchestrator-contract';
import { AppError, fastifyErrorStatus } from '@mosaic/http-kit';
import type { FastifyReply } from 'fastify';

/** The status of every contract code; the `orchestrator_*` and task codes are the API's, never raised here. */
const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  insufficient_scope: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  idempotency_key_reused: 422,
  task_context_too_large: 422,
  daily_budget_exhausted: 429,
  agent_unavailable: 400,
  too_many_streams: 429,
  internal_error: 500,
  orchestrator_rejected: 502,
  at_capacity: 503,
  queue_full: 503,
  queue_unavailable: 503,
  node_unreachable: 503,
  database_unavailable: 503,
  shutting_down: 503,
  orchestrator_unreachable: 503,
  orchestrator_circuit_open: 503,
  orchestrator_timeout: 504,
};

const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  422: 'idempotency_key_reused',
};

/** What a client should wait before retrying a spawn refused for capacity or shutdown. */
const RETRY_AFTER_SECONDS = '5';

/**
 * The one place where an error becomes the contract's `{ error: { code, message } }` body.
 * Nest routes Fastify's own errors (invalid JSON, body too large, unsupported media
 * type, unknown route) through here too, as HttpExceptions carrying Fastify's status.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(ErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    // Fastify's reply is thenable: each `void reply…` below sends the answer, and nothing is left to wait for.
    if (exception instanceof AppError) {
      const status = STATUS_BY_CODE[exception.code];
      if (status === 503) void reply.header('retry-after', RETRY_AFTER_SECONDS);
      void reply.status(status).send(errorBody(exception.code, exception.message));
      return;
    }
    if (exception instanceof HttpException && exception.getStatus() < 500) {
      const status = exception.getStatus();
      void reply.status(status).send(errorBody(CODE_BY_STATUS[status] ?? 'bad_request', exception.message));
      return;
    }
    // A hook's refusal (a body nested too deep, say) carries its status as Fastify's errors do, but Nest passes it on as it is.
    const hookStatus = fastifyErrorStatus(exception);
    if (hookStatus !== undefined && hookStatus < 500) {
      void reply.status(hookStatus).send(errorBody(CODE_BY_STATUS[hookStatus] ?? 'bad_request', (exception as Error).message));
      return;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    void reply.status(500).send(errorBody('internal_error', 'internal error'));
  }
}
