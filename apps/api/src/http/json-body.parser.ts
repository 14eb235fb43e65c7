import type { FastifyInstance } from 'fastify';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '@mosaic/orchestrator-contract';

/**
 * Deepest JSON body taken in. No body of the contract comes near it (task
 * metadata stops at MAX_JSON_DEPTH); past it, the body is refused before
 * anything walks it recursively (validation, serialization), where a hostile
 * depth would overflow the stack and answer 500.
 */
export const MAX_BODY_DEPTH = 2 * MAX_JSON_DEPTH;

/** Fastify's own JSON parser (prototype poisoning refused), then the depth check, as a 400. */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parse(request, body as string, (error, value) => {
      if (error) return done(error, undefined);
      if (nestsDeeperThan(value, MAX_BODY_DEPTH)) return done(Object.assign(new Error(`body nests deeper than ${MAX_BODY_DEPTH} levels`), { statusCode: 400 }), undefined);
      done(null, value);
    });
  });
}
