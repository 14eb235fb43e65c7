import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { ApiError } from '../http/api-error';

/**
 * Checks `Authorization: Bearer <ORCHESTRATOR_API_KEY>`. Both sides are hashed first so
 * that timingSafeEqual compares equal-length digests and the time taken says nothing
 * about the key's length or content.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(config: OrchestratorConfig) {
    this.expected = digest(config.apiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (!this.isAuthorized(request.headers.authorization)) throw unauthorized();
    return true;
  }

  isAuthorized(header: string | undefined): boolean {
    const match = /^Bearer (.+)$/.exec(header ?? '');
    if (!match) return false;
    return timingSafeEqual(digest(match[1]), this.expected);
  }
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'unauthorized', 'a valid API key is required: Authorization: Bearer <ORCHESTRATOR_API_KEY>');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
