import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { errorBody, type ErrorCode } from '@mosaic/orchestrator-contract';
import type { FastifyReply } from 'fastify';
import { ApiError } from './api-error';

const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  422: 'idempotency_key_reused',
};

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
    if (exception instanceof ApiError) {
      void reply.status(exception.getStatus()).headers(exception.headers).send(errorBody(exception.code, exception.message));
      return;
    }
    if (exception instanceof HttpException && exception.getStatus() < 500) {
      const status = exception.getStatus();
      void reply.status(status).send(errorBody(CODE_BY_STATUS[status] ?? 'bad_request', exception.message));
      return;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    void reply.status(500).send(errorBody('internal_error', 'internal error'));
  }
}
