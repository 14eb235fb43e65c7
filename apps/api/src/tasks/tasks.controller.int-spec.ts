import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { testDatabaseUrl } from '../../../../test/support/database';
import { ApiConfig } from '../config/api-config';
import { createHttpApp } from '../http/http-app';

const TOKEN = 'tasks-int-token';

/** The operator endpoints' input handling, through the real HTTP app on the real database. */
describe('operator endpoints: input validation (integration)', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    const config = ApiConfig.fromEnvironment({
      DATABASE_URL: testDatabaseUrl(),
      MOSAIC_API_TOKEN: TOKEN,
      ORCHESTRATOR_URL: 'http://127.0.0.1:9',
      RECONCILE_INTERVAL_MS: '3600000',
    });
    app = await createHttpApp(config, { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await app.close();
  });

  async function inject(method: 'GET' | 'POST', url: string, payload?: unknown, token = TOKEN) {
    const response = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(payload === undefined ? {} : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
    });
    return { status: response.statusCode, body: response.json() };
  }

  it('creates a task with its defaults', async () => {
    const created = await inject('POST', '/tasks', { title: 'write the docs' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'write the docs', status: 'open', priority: 'normal', labels: [], metadata: {}, description: null, session: null });
    const fetched = await inject('GET', `/tasks/${created.body.id}`);
    expect(fetched).toMatchObject({ status: 200, body: { id: created.body.id } });
  });

  it.each([
    [{}, 'title'],
    [{ title: '' }, 'title'],
    [{ title: 7 }, 'title'],
    [{ title: 't', priority: 'asap' }, 'priority'],
    [{ title: 't', labels: 'one' }, 'labels'],
    [{ title: 't', labels: [1] }, 'labels'],
    [{ title: 't', metadata: [] }, 'metadata'],
    [{ title: 't', owner: 'me' }, 'owner'],
  ])('refuses %j with a 400 naming %s', async (payload, field) => {
    const answer = await inject('POST', '/tasks', payload);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: { code: 'bad_request', message: expect.stringContaining(field) } });
  });

  it('refuses unparsable JSON in the contract shape', async () => {
    const answer = await inject('POST', '/tasks', '{"title":');
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=ten', 'limit'],
    ['status=sleeping', 'status'],
    ['cursor=bogus', 'cursor'],
    ['sort=asc', 'sort'],
  ])('refuses the list query %s with a 400 naming %s', async (query, field) => {
    const answer = await inject('GET', `/orchestrator/sessions?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain(field);
  });

  it('refuses a wrong operator token', async () => {
    const answer = await inject('GET', '/orchestrator/sessions', undefined, 'wrong');
    expect(answer).toEqual({ status: 401, body: { error: { code: 'unauthorized', message: expect.any(String) } } });
  });
});
