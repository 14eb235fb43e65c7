import { applyDecorators, type INestApplication } from '@nestjs/common';
import { ApiResponse, DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import {
  type ErrorAnswer,
  errorAnswerResponses,
  wireOpenApiSchemas,
  wireSchemaRef,
  type WireSchemaName,
} from '@mosaic/orchestrator-contract';

export const API_KEY_SCHEME = 'orchestrator_api_key';

/** The wire types this service's operations refer to. */
const COMPONENTS: readonly WireSchemaName[] = [
  'ErrorBody',
  'SpawnRequest',
  'SpawnResponse',
  'SessionStatusResponse',
  'KillResponse',
  'CancelRequest',
  'ListResponse',
  'OrchestratorHealth',
];

/** The Orchestrator Gateway API's OpenAPI document (docs/contract.md §2), built from the controllers' decorators. */
export function createOpenApiDocument(app: INestApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Orchestrator Gateway API')
    .setDescription(
      "Runs one agent process per session and reports its events to the session's callback URL. " +
        'Every error answer is `{ "error": { "code", "message" } }`.',
    )
    .setVersion(version)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ORCHESTRATOR_API_KEY' }, API_KEY_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...wireOpenApiSchemas(COMPONENTS) } };
  return document;
}

/** Serves the document at `/docs` (Swagger UI) and `/docs/json`. Call before the app listens. */
export function setupOpenApi(app: INestApplication, version: string): void {
  SwaggerModule.setup('docs', app, createOpenApiDocument(app, version), { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
}

/** Documents answers in the contract's error shape, each with an example body. */
export function ApiErrorResponses(answers: Readonly<Record<number, ErrorAnswer>>): MethodDecorator & ClassDecorator {
  return applyDecorators(...errorAnswerResponses(answers).map((response) => ApiResponse(response)));
}

/** A success answer whose body is one of the contract's wire types. */
export function ApiWireResponse(status: number, name: WireSchemaName, description: string): MethodDecorator {
  return ApiResponse({ status, description, content: { 'application/json': { schema: wireSchemaRef(name) } } });
}
