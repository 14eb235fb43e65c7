import type { FastifyInstance } from 'fastify';
import { ApiKeyGuard, unauthorized } from './api-key.guard';

const PROTECTED_PREFIX = '/orchestrator/';

/**
 * Rejects unauthenticated requests under `/orchestrator/` before Fastify reads their
 * body or looks up a route: an anonymous caller gets `401` for every path there,
 * never a `400`/`413` about a body we should not have parsed, nor a `404` revealing
 * which routes exist. The guard on the controller stays as the route-level check.
 */
export function installApiKeyHook(fastify: FastifyInstance, guard: ApiKeyGuard): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    // Through the error filter, like every other error answer.
    done(request.url.startsWith(PROTECTED_PREFIX) && !guard.isAuthorized(request) ? unauthorized() : undefined);
  });
}
