import { CanActivate, ExecutionContext, Injectable, UseGuards, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiErrorResponses } from '../openapi/error-responses';
import { SECURITY_SCHEMES } from '../openapi/openapi';
import { operatorOf } from './operator';
import { operatorUnauthorized } from './operator-authentication.middleware';

/**
 * Lets a request through only once OperatorAuthentication has authenticated
 * it: a controller marked OperatorAuth whose module does not apply the
 * middleware refuses everything rather than letting anyone in.
 */
@Injectable()
class OperatorAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (operatorOf(request.raw) === undefined) throw operatorUnauthorized();
    return true;
  }
}

/** Marks a controller or route as an operator endpoint (contract section 4), in its OpenAPI document too. */
export function OperatorAuth(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    UseGuards(OperatorAuthGuard),
    ApiBearerAuth(SECURITY_SCHEMES.operator),
    ApiErrorResponses({ 401: { when: 'no valid operator token (Authorization: Bearer <MOSAIC_API_TOKEN>)', code: 'unauthorized' } }),
  );
}
