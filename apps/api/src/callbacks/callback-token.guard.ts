import { CanActivate, ExecutionContext, Injectable, createParamDecorator } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { bearerToken } from '../auth/bearer-token';
import { AppError } from '../http/app-error';
import { CallbackTokenService, hashToken, type TokenHolder } from './callback-token.service';
import { type CallbackTarget, SessionEventRepository } from './session-event.repository';

type CallbackRequest = FastifyRequest<{ Params: { sessionId?: string } }> & { callbackTarget?: CallbackTarget };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Stands in for a session that does not exist, so that a token for it costs the
 * same hashing and comparison as a wrong token for a real one. Its hash is of a
 * token nobody holds, and it has already expired.
 */
const NO_SESSION: TokenHolder = {
  status: 'running',
  endedAt: null,
  callbackTokenHash: hashToken(randomBytes(32).toString('base64url')),
  callbackTokenExpiresAt: new Date(0),
};

/**
 * Lets a callback through only with the token issued for the session in its
 * path, still valid. Every refusal is the same 401, whatever the reason, so it
 * tells nobody whether the session exists or which check failed. Runs before
 * the body is validated: an unauthenticated caller learns nothing about it.
 */
@Injectable()
export class CallbackTokenGuard implements CanActivate {
  constructor(
    private readonly events: SessionEventRepository,
    private readonly tokens: CallbackTokenService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<CallbackRequest>();
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) throw invalidCallbackToken();
    const sessionId = request.params.sessionId ?? '';
    const target = UUID.test(sessionId) ? await this.events.findCallbackTarget(sessionId.toLowerCase()) : undefined;
    const accepted = this.tokens.accepts(target ?? NO_SESSION, token);
    if (target === undefined || !accepted) throw invalidCallbackToken();
    request.callbackTarget = target;
    return true;
  }
}

/** The session `CallbackTokenGuard` authenticated the request for. */
export const CallbackSession = createParamDecorator((_data: unknown, context: ExecutionContext): CallbackTarget => {
  const target = context.switchToHttp().getRequest<CallbackRequest>().callbackTarget;
  if (target === undefined) throw new Error('CallbackSession used on a route without CallbackTokenGuard');
  return target;
});

/** The one answer to every callback that cannot be attributed to a live session and its token. */
export function invalidCallbackToken(): AppError {
  return new AppError('unauthorized', 'invalid callback token');
}
