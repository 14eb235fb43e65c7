import { ArgumentsHost, Catch, ExceptionFilter, ServiceUnavailableException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { toHttpFailure } from '../http/error.filter';

/**
 * Terminus reports a failed check by throwing ServiceUnavailableException
 * with its report as the response. The global ErrorFilter would rewrite that
 * into the contract's error shape, but the health endpoints answer in
 * terminus's format (docs/contract.md §4). Scoped to the health controller,
 * this filter runs before the global one and sends the report as it is.
 */
@Catch(ServiceUnavailableException)
export class HealthReportFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const report = exception.getResponse();
    if (!isHealthReport(report)) {
      const failure = toHttpFailure(exception);
      // Fastify's reply is thenable; the answer is sent, nothing is left to wait for.
      void reply.status(failure.status).send(failure.body);
      return;
    }
    // @HealthCheck()'s no-cache header is only applied to successful answers; the reply is sent, not waited for.
    void reply.status(503).header('cache-control', 'no-cache, no-store, must-revalidate').send(report);
  }
}

function isHealthReport(response: unknown): boolean {
  return typeof response === 'object' && response !== null && 'status' in response && 'details' in response;
}
