import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiConfig } from '../config/api-config';
import { AppError } from '@mosaic/http-kit';
import { bearerToken, secretsEqual } from '@mosaic/http-kit';
import { authenticatedAs } from './operator';

/**
 * Authenticates operator requests as they arrive: Nest runs middleware in
 * Fastify's `onRequest` phase, before the body is read, so a request without a
 * valid token is refused without the API reading (up to 256 KiB of) its body.
 * Which operator endpoints need which rights is the guard's (OperatorAuth).
 */
@Injectable()
export class OperatorAuthentication implements NestMiddleware<IncomingMessage, ServerResponse> {
  constructor(private readonly config: ApiConfig) {}

  use(request: IncomingMessage, _response: ServerResponse, next: (error?: unknown) => void): void {
    const token = bearerToken(request.headers.authorization);
    if (token === undefined || !secretsEqual(token, this.config.mosaicApiToken)) throw operatorUnauthorized();
    authenticatedAs(request, { name: 'admin' });
    next();
  }
}

export function operatorUnauthorized(): AppError {
  return new AppError('unauthorized', 'a valid operator token is required (Authorization: Bearer <MOSAIC_API_TOKEN>)');
}
