import Fastify from 'fastify';
import { MAX_BODY_DEPTH, refuseDeepBodies } from './deep-body';

describe('refuseDeepBodies', () => {
  const app = Fastify();
  refuseDeepBodies(app);
  app.post('/', async (request) => ({ received: request.body }));

  afterAll(() => app.close());

  const post = (payload: string) => app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, payload });
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('takes a body up to the depth limit', async () => {
    const answer = await post(nested(MAX_BODY_DEPTH));
    expect(answer.statusCode).toBe(200);
  });

  it('refuses a deeper one, 50,000 levels included, with a 400 that says why', async () => {
    for (const depth of [MAX_BODY_DEPTH + 1, 50_000]) {
      const answer = await post(nested(depth));
      expect(answer.statusCode).toBe(400);
      expect(answer.json().message).toBe(`body nests deeper than ${MAX_BODY_DEPTH} levels`);
    }
  });

  it('still refuses prototype poisoning and malformed JSON', async () => {
    expect((await post('{"__proto__":{"x":1}}')).statusCode).toBe(400);
    expect((await post('{"a":')).statusCode).toBe(400);
  });
});
