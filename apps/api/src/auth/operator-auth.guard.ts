import { CanActivate, ExecutionContext, Injectable, SetMetadata, UseGuards, applyDecorators, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AppError } from '@mosaic/http-kit';
import { ApiErrorResponses } from '../openapi/error-responses';
import { SECURITY_SCHEMES } from '../openapi/openapi';
import type { OperatorScope } from '@mosaic/orchestrator-contract';
import { type Operator, operatorOf } from './operator';
import { operatorUnauthorized } from './operator-authentication.middleware';

/** What an endpoint requires: a scope, or the administrator. */
export type OperatorRight = OperatorScope | 'admin';

const REQUIRED_RIGHT = Symbol('operator right');

/**
 * Lets a request through only once OperatorAuthentication has authenticated
 * it (a controller whose module does not apply the middleware refuses
 * everything rather than letting anyone in), and only with the right its
 * endpoint requires: `403 insufficient_scope` otherwise.
 */
@Injectable()
class OperatorAuthGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const operator = operatorOf(context.switchToHttp().getRequest<FastifyRequest>().raw);
    if (operator === undefined) throw operatorUnauthorized();
    const right = this.reflector.get<OperatorRight>(REQUIRED_RIGHT, context.getHandler());
    if (!holds(operator, right)) {
      throw new AppError(
        'insufficient_scope',
        `this endpoint needs ${right === 'admin' ? 'the administrator token' : `the ${right} scope`}`,
      );
    }
    return true;
  }
}

function holds(operator: Operator, right: OperatorRight): boolean {
  return operator.admin || (right !== 'admin' && operator.scopes.includes(right));
}

/** Marks a route as an operator endpoint needing `right` (docs/contract.md §4), in its OpenAPI document too. */
export function OperatorAuth(right: OperatorRight): MethodDecorator {
  return applyDecorators(
    SetMetadata(REQUIRED_RIGHT, right),
    UseGuards(OperatorAuthGuard),
    ApiBearerAuth(SECURITY_SCHEMES.operator),
    ApiErrorResponses({
      401: { when: 'no valid operator token or key', code: 'unauthorized' },
      403: {
        when: right === 'admin' ? 'an operator key: only the administrator token may' : `a key without the \`${right}\` scope`,
        code: 'insufficient_scope',
      },
    }),
  );
}

/** The operator who sent the request, as OperatorAuth let it through. */
export const CurrentOperator = createParamDecorator((_data: unknown, context: ExecutionContext): Operator => {
  const operator = operatorOf(context.switchToHttp().getRequest<FastifyRequest>().raw);
  if (operator === undefined) throw operatorUnauthorized();
  return operator;
});
