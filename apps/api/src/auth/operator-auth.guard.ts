import { CanActivate, ExecutionContext, Injectable, UseGuards, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiConfig } from '../config/api-config';
import { AppError } from '../http/app-error';
import { ApiErrorResponses } from '../openapi/error-responses';
import { SECURITY_SCHEMES } from '../openapi/openapi';
import { bearerToken, secretsEqual } from './bearer-token';

/** Lets a request through only with `Authorization: Bearer <MOSAIC_API_TOKEN>`. */
@Injectable()
class OperatorAuthGuard implements CanActivate {
  constructor(private readonly config: ApiConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = bearerToken(request.headers.authorization);
    if (token === undefined || !secretsEqual(token, this.config.mosaicApiToken)) {
      throw new AppError('unauthorized', 'a valid operator token is required (Authorization: Bearer <MOSAIC_API_TOKEN>)');
    }
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
