import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { apiOpenApiSchemas, wireOpenApiSchemas } from '@mosaic/orchestrator-contract';

/** Security scheme names, as operations refer to them with `@ApiBearerAuth`. */
export const SECURITY_SCHEMES = {
  operator: 'operator_token',
  callback: 'callback_token',
} as const;

const DOCS_PATH = 'docs';
const DOCS_JSON_PATH = 'docs/json';

/** The API's OpenAPI document: its operations from the controllers' decorators, its shapes from the contract's zod schemas. */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Mosaic API')
    .setDescription(
      'Tasks, their dispatch to the Orchestrator, the sessions that serve them, and the callback endpoint the Orchestrator reports to. ' +
        'Every error answer is `{ "error": { "code", "message" } }`.',
    )
    .setVersion('1')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'MOSAIC_API_TOKEN (the administrator) or an operator key (`mk_…`) with the scope the operation needs',
      },
      SECURITY_SCHEMES.operator,
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'the callback token the API issued for this one session in its spawn request' },
      SECURITY_SCHEMES.callback,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...apiOpenApiSchemas(), ...wireOpenApiSchemas(['ErrorBody', 'CallbackEvent']) },
  };
  return document;
}

/** Serves the document at `/docs` (Swagger UI) and `/docs/json`. Call before the app is initialised. */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, createOpenApiDocument(app), { jsonDocumentUrl: DOCS_JSON_PATH, yamlDocumentUrl: 'docs/yaml' });
}
