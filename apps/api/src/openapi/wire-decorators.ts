import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { z } from 'zod';
import { type ApiSchemaName, queryParameters, wireSchemaRef } from '@mosaic/orchestrator-contract';

/*
 * Operations document their bodies by the contract's zod schemas (the
 * document's components, see openapi.ts), never by classes of their own.
 */

/** A success answer whose body is one of the API's wire shapes. */
export function ApiWireResponse(status: number, name: ApiSchemaName, description = ''): MethodDecorator & ClassDecorator {
  return ApiResponse({ status, description, schema: wireSchemaRef(name) });
}

/** A request body that is one of the API's wire shapes. */
export function ApiWireBody(name: ApiSchemaName, { required }: { required: boolean }): MethodDecorator {
  return ApiBody({ schema: wireSchemaRef(name), required });
}

/** The query parameters of `schema`, one of the contract's query schemas. */
export function ApiWireQuery(schema: z.ZodObject): MethodDecorator {
  return applyDecorators(...queryParameters(schema).map((parameter) => ApiQuery(parameter)));
}
