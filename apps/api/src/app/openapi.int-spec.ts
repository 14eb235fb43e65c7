import { TestApi } from '../../../../test/support/api-app';
import { API_ROUTES, documentedRoutes, sortedRoutes } from '../../../../test/support/contract-routes';
import { SECURITY_SCHEMES } from '../openapi/openapi';

type Operation = {
  security?: Record<string, string[]>[];
  responses: Record<string, { content?: Record<string, { schema?: unknown; example?: unknown }> }>;
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

/** The OpenAPI document the real app serves, checked against docs/contract.md §4. */
describe('API OpenAPI document (integration)', () => {
  let api: TestApi;
  let document: Document;

  beforeAll(async () => {
    api = await TestApi.start();
    const response = await api.request<Document>('GET', '/docs/json', { token: null });
    expect(response.status).toBe(200);
    document = response.body;
  });

  afterAll(async () => {
    await api.close();
  });

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, operation })),
    );

  it("documents exactly the contract's operations, each with exactly its statuses", () => {
    expect(documentedRoutes(document)).toEqual(sortedRoutes(API_ROUTES));
  });

  it("describes every error answer with the contract's error body and an example", () => {
    const errorAnswers = operations().flatMap(({ route, operation }) =>
      Object.entries(operation.responses)
        .filter(([status]) => Number(status) >= 400 && !route.includes('/health'))
        .map(([status, answer]) => ({ route, status, content: answer.content?.['application/json'] })),
    );
    expect(errorAnswers.length).toBeGreaterThan(20);
    for (const { content } of errorAnswers) {
      expect(content).toMatchObject({
        schema: { $ref: '#/components/schemas/ErrorBody' },
        example: { error: { code: expect.any(String), message: expect.any(String) } },
      });
    }
    expect(document.components.schemas.ErrorBody).toMatchObject({ required: ['error'] });
  });

  it('asks for the operator token on operator routes and the callback token on the callback route, nothing on health', () => {
    for (const { route, operation } of operations()) {
      if (route.startsWith('GET /health')) expect(operation.security).toBeUndefined();
      else if (route.startsWith('POST /orchestrator/callbacks/')) expect(operation.security).toEqual([{ [SECURITY_SCHEMES.callback]: [] }]);
      else expect({ route, security: operation.security }).toEqual({ route, security: [{ [SECURITY_SCHEMES.operator]: [] }] });
    }
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(Object.values(SECURITY_SCHEMES).sort());
  });

  it('describes bodies in snake_case with examples', () => {
    const callback = document.paths['/orchestrator/callbacks/{sessionId}']!.post!;
    expect(JSON.stringify(callback)).toContain('#/components/schemas/CallbackEvent');
    expect(document.components.schemas.CallbackEvent).toMatchObject({
      example: { event_id: expect.any(String), session_id: expect.any(String) },
    });
    expect(document.components.schemas.Session).toMatchObject({
      properties: {
        task_id: { example: expect.any(String) },
        orchestrator_session_id: { nullable: true },
        last_sequence: { example: expect.any(Number) },
      },
    });
  });

  it('serves Swagger UI at /docs', async () => {
    const response = await api.request('GET', '/docs', { token: null });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
  });
});
