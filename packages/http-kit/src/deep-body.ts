import type { FastifyInstance } from 'fastify';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '@mosaic/orchestrator-contract';

/**
 * Deepest JSON body a service takes in. No body of the contract comes near it
 * (task metadata stops at MAX_JSON_DEPTH); past it, the body is refused before
 * anything walks it recursively (validation, hashing, serialization), where a
 * hostile depth would overflow the stack and answer 500.
 */
export const MAX_BODY_DEPTH = 2 * MAX_JSON_DEPTH;

/**
 * Refuses, with a 400, a parsed body deeper than MAX_BODY_DEPTH, before the
 * route sees it. Parsing itself is safe at any depth the body limit allows;
 * what comes after it is not.
 */
export function refuseDeepBodies(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, _reply, done) => {
    if (nestsDeeperThan(request.body, MAX_BODY_DEPTH)) {
      done(Object.assign(new Error(`body nests deeper than ${MAX_BODY_DEPTH} levels`), { statusCode: 400 }));
      return;
    }
    done();
  });
}
