import Fastify from 'fastify';
import type { ErrorBody } from '@mosaic/orchestrator-contract';
import { TestApi } from '../../../../test/support/api-app';
import { webDistDirectory } from './web-dist';
import { CONTENT_SECURITY_POLICY, serveWebPage } from './web-page';

/** The operators' page as the real app serves it (apps/web must be built: `pnpm build`). */
describe('web page (integration)', () => {
  let api: TestApi;

  beforeAll(async () => {
    if (webDistDirectory() === undefined) throw new Error('apps/web/dist is missing: run `pnpm build` before the integration tests');
    api = await TestApi.start();
  });

  afterAll(async () => {
    await api?.close();
  });

  it('serves index.html at / without a token, with its CSP, nosniff and no-cache', async () => {
    const page = await api.request<string>('GET', '/', { token: null });

    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.body).toContain('<div id="root"></div>');
  });

  it('serves the assets index.html names, cached for good', async () => {
    const page = await api.request<string>('GET', '/', { token: null });
    const assets = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toEqual(expect.arrayContaining([expect.stringMatching(/\.js$/), expect.stringMatching(/\.css$/)]));

    for (const asset of assets) {
      const answer = await api.request<string>('GET', asset, { token: null });
      expect(answer.status).toBe(200);
      expect(answer.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['content-type']).toMatch(asset.endsWith('.js') ? /javascript/ : /^text\/css/);
    }
  });

  it('leaves every other path to the API: its routes, and its 404s in the contract shape', async () => {
    expect((await api.request('GET', '/orchestrator/sessions', { token: null })).status).toBe(401);
    expect((await api.request('GET', '/orchestrator/sessions')).status).toBe(200);
    const missing = await api.request<ErrorBody>('GET', '/assets/no-such-file.js', { token: null });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await api.request<ErrorBody>('GET', '/sessions/whatever', { token: null })).status).toBe(404);
  });

  it('answers / with a 404 in the contract shape that says to build, when the page was not built', async () => {
    const fastify = Fastify();
    serveWebPage(fastify, undefined);
    const answer = await fastify.inject({ method: 'GET', url: '/' });
    await fastify.close();

    expect(answer.statusCode).toBe(404);
    expect(answer.json()).toEqual({ error: { code: 'not_found', message: expect.stringContaining('pnpm build') } });
  });
});
