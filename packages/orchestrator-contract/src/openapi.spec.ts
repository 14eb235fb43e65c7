import type { z } from 'zod';
import { HEALTH_EXAMPLES, healthReportSchema } from './api-health';
import { API_WIRE_SCHEMAS, apiOpenApiSchemas, type ApiSchemaName, WIRE_TYPES, wireOpenApiSchemas, type WireSchemaName } from './openapi';

describe('wire types in OpenAPI', () => {
  const names = Object.keys(WIRE_TYPES) as WireSchemaName[];

  it.each(names)('documents %s with an example its own schema accepts', (name) => {
    const { schema, example } = WIRE_TYPES[name];
    expect(schema.safeParse(example).error).toBeUndefined();
    expect(wireOpenApiSchemas([name])[name]).toMatchObject({ example });
  });

  it("describes timestamps by their format, without zod's regular expression", () => {
    const schema = wireOpenApiSchemas(['SpawnResponse']).SpawnResponse as { properties: { created_at: object } };
    expect(schema.properties.created_at).toEqual({ type: 'string', format: 'date-time' });
  });
});

describe("the Mosaic API's shapes in OpenAPI", () => {
  const components = apiOpenApiSchemas();
  const names = Object.keys(API_WIRE_SCHEMAS) as ApiSchemaName[];

  it('documents every shape, each referring only to shapes documented beside it', () => {
    expect(Object.keys(components).sort()).toEqual([...names].sort());
    const referred = [...JSON.stringify(components).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map(([, name]) => name);
    expect(referred.length).toBeGreaterThan(5);
    expect(referred.filter((name) => !names.includes(name as ApiSchemaName))).toEqual([]);
  });

  it.each(names)('gives the fields of %s examples their own schemas accept', (name) => {
    const fields = Object.entries((API_WIRE_SCHEMAS[name] as z.ZodObject).shape);
    const examples = fields.filter(([, field]) => 'example' in (field.meta() ?? {}));
    for (const [field, schema] of examples) {
      expect({ field, problem: schema.safeParse(schema.meta()?.example).error?.message }).toEqual({ field, problem: undefined });
    }
  });

  it('shows health reports its schema accepts', () => {
    expect(healthReportSchema.safeParse(HEALTH_EXAMPLES.healthy).error).toBeUndefined();
    expect(healthReportSchema.safeParse(HEALTH_EXAMPLES.unhealthy).error).toBeUndefined();
  });

  it("describes UUIDs and integers by their format and type, without zod's patterns and safe-integer bounds", () => {
    const session = components.Session as { properties: Record<string, object> };
    expect(session.properties.id).toEqual({ type: 'string', format: 'uuid', example: expect.any(String) });
    expect(session.properties.last_sequence).toMatchObject({ type: 'integer', minimum: 0 });
    expect(session.properties.last_sequence).not.toHaveProperty('maximum');
  });
});
