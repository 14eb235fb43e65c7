import { type ErrorBody, type Task, taskSchema } from '@mosaic/orchestrator-contract';
import { TestApi } from '../../../../test/support/api-app';
import type { CreateTaskDto } from './create-task.dto';

/** The operator endpoints' input handling, through the real HTTP app on the real database. */
describe('operator endpoints: input validation (integration)', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await TestApi.start();
  });

  afterAll(async () => {
    await api.close();
  });

  it('creates a task with its defaults', async () => {
    const created = await api.request<Task>('POST', '/tasks', { body: { title: 'write the docs' } satisfies CreateTaskDto });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      title: 'write the docs',
      status: 'open',
      priority: 'normal',
      labels: [],
      metadata: {},
      description: null,
      session: null,
    });
    // Exactly the contract's shape: parsing drops any field the schema does not know.
    expect(taskSchema.parse(created.body)).toEqual(created.body);
    const fetched = await api.request<Task>('GET', `/tasks/${created.body.id}`);
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
    [{ title: 'a\u0000b' }, 'title: contains a NUL character'],
    [{ title: 'a\uD800b' }, 'title: is not well-formed Unicode'],
    [{ title: 't', labels: ['ok', 'x\u0000'] }, 'labels: contains a NUL'],
    [{ title: 't', metadata: { notes: ['fine', 'nul \u0000'] } }, 'metadata: notes[1] contains a NUL character'],
    [{ title: 't', metadata: { ['k\u0000']: 1 } }, 'metadata: a key of value contains a NUL'],
  ])('refuses %j with a 400 naming %s', async (payload, field) => {
    const answer = await api.request<ErrorBody>('POST', '/tasks', { body: payload });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: { code: 'bad_request', message: expect.stringContaining(field) } });
  });

  it('refuses metadata nested 50,000 levels deep with a 400, not a stack overflow', async () => {
    const depth = 50_000;
    // Arrays nest in two bytes a level, so 50,000 levels fit the body limit.
    const body = `{"title":"deep","metadata":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const answer = await api.request<ErrorBody>('POST', '/tasks', { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toBe('body nests deeper than 64 levels');
  });

  it('keeps metadata as sent, keys named like Object methods included, and checks all of it', async () => {
    const metadata = { valueOf: { note: 'kept' }, toString: 1 };
    const created = await api.request<Task>('POST', '/tasks', { body: { title: 'odd keys', metadata } satisfies CreateTaskDto });
    expect(created.status).toBe(201);
    expect(created.body.metadata).toEqual(metadata);
    const refused = await api.request<ErrorBody>('POST', '/tasks', {
      body: { title: 'odd keys', metadata: { valueOf: { note: 'a\u0000' } } },
    });
    expect(refused.body).toEqual({ error: { code: 'bad_request', message: 'metadata: valueOf.note contains a NUL character' } });
  });

  it('refuses unparsable JSON in the contract shape', async () => {
    const answer = await api.request<ErrorBody>('POST', '/tasks', { body: '{"title":' });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=1e2', 'limit'],
    ['limit=%2010', 'limit'],
    ['status=sleeping', 'status'],
    ['cursor=bogus', 'cursor'],
    ['sort=asc', 'sort'],
  ])('refuses the list query %s with a 400 naming %s', async (query, field) => {
    const answer = await api.request<ErrorBody>('GET', `/orchestrator/sessions?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain(field);
  });

  it('refuses a wrong operator token', async () => {
    const answer = await api.request<ErrorBody>('GET', '/orchestrator/sessions', { token: 'wrong' });
    expect({ status: answer.status, body: answer.body }).toEqual({
      status: 401,
      body: { error: { code: 'unauthorized', message: expect.any(String) } },
    });
  });
});
