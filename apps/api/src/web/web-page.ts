import { relative, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { errorBody } from '@mosaic/orchestrator-contract';

/** The page loads nothing but its own files and talks to nothing but this API. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Vite puts a hash of their content in the assets' names: a changed asset is a new URL. */
const ASSETS_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export const WEB_NOT_BUILT_MESSAGE = 'the operators\u2019 web page is not built: run `pnpm build` (or `pnpm start`, which builds it)';

/**
 * Serves the built page: `/` (index.html) and the files under `/assets/`,
 * each as a route of its own, listed when the API starts. The page routes
 * itself by the URL's hash, so no wildcard is needed, and none can shadow an
 * API route or turn an API 404 into the page. Open, like the health
 * endpoints: the page carries no data, its API calls carry the token.
 */
export function serveWebPage(fastify: FastifyInstance, dist: string | undefined): void {
  if (dist === undefined) {
    fastify.get('/', async (_request, reply) => {
      await reply.code(404).send(errorBody('not_found', WEB_NOT_BUILT_MESSAGE));
    });
    return;
  }
  // Not awaited: that would boot Fastify's plugins here, before Nest has installed its error handling, and
  // body-parsing failures would then answer in Fastify's shape instead of the contract's. It loads at ready().
  fastify.register(fastifyStatic, {
    root: dist,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    // Nothing calls reply.sendFile; undecorated, this registration cannot clash with another of @fastify/static.
    decorateReply: false,
    cacheControl: false,
    dotfiles: 'ignore',
    setHeaders: (response, path) => {
      response.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      response.setHeader('x-content-type-options', 'nosniff');
      response.setHeader('cache-control', relative(dist, path).startsWith(`assets${sep}`) ? ASSETS_CACHE_CONTROL : 'no-cache');
    },
  });
}
