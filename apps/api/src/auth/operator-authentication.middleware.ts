import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, bearerToken, hashSecret, secretsEqual } from '@mosaic/http-kit';
import { ApiConfig } from '../config/api-config';
import { ADMIN, authenticatedAs, type Operator } from './operator';
import { OPERATOR_KEY_PREFIX } from './operator-keys.service';
import { OperatorKeyRepository } from './operator-key.repository';

/**
 * Authenticates operator requests as they arrive: Nest runs middleware in
 * Fastify's `onRequest` phase, before the body is read, so a request without a
 * valid token is refused without the API reading (up to 256 KiB of) its body.
 * The administrator's token or an operator key (`mk_…`, looked up by its hash
 * on every request, so a revoke holds from the next one); which endpoint
 * needs which scope is the guard's (OperatorAuth).
 */
@Injectable()
export class OperatorAuthentication implements NestMiddleware<IncomingMessage, ServerResponse> {
  constructor(
    private readonly config: ApiConfig,
    private readonly keys: OperatorKeyRepository,
  ) {}

  async use(request: IncomingMessage, _response: ServerResponse, next: (error?: unknown) => void): Promise<void> {
    const operator = await this.operatorFor(bearerToken(request.headers.authorization));
    if (operator === undefined) throw operatorUnauthorized();
    authenticatedAs(request, operator);
    next();
  }

  private async operatorFor(token: string | undefined): Promise<Operator | undefined> {
    if (token === undefined) return undefined;
    if (secretsEqual(token, this.config.mosaicApiToken)) return ADMIN;
    if (!token.startsWith(OPERATOR_KEY_PREFIX)) return undefined;
    const key = await this.keys.findActiveByHash(hashSecret(token));
    return key === undefined ? undefined : { name: key.name, keyId: key.id, scopes: key.scopes, admin: false };
  }
}

export function operatorUnauthorized(): AppError {
  return new AppError('unauthorized', 'a valid operator token or key is required (Authorization: Bearer <MOSAIC_API_TOKEN or mk_…>)');
}
