import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { AppError, bearerToken, secretsEqual } from '@mosaic/http-kit';
import type { FastifyRequest } from 'fastify';
import { OrchestratorConfig } from '../config/orchestrator-config';

/** Checks `Authorization: Bearer <ORCHESTRATOR_API_KEY>`. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly config: OrchestratorConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (!this.isAuthorized(request.headers.authorization)) throw unauthorized();
    return true;
  }

  isAuthorized(header: string | undefined): boolean {
    const token = bearerToken(header);
    return token !== undefined && secretsEqual(token, this.config.apiKey);
  }
}

export function unauthorized(): AppError {
  return new AppError('unauthorized', 'a valid API key is required: Authorization: Bearer <ORCHESTRATOR_API_KEY>');
}
