import { WIRE_TYPES, wireOpenApiSchemas, type WireSchemaName } from './openapi';

describe('wire types in OpenAPI', () => {
  const names = Object.keys(WIRE_TYPES) as WireSchemaName[];

  it.each(names)('documents %s with an example its own schema accepts', (name) => {
    const { schema, example } = WIRE_TYPES[name];
    expect(schema.safeParse(example).error).toBeUndefined();
    expect(wireOpenApiSchemas([name])[name]).toMatchObject({ example });
  });

  it('describes timestamps by their format, without zod\'s regular expression', () => {
    const schema = wireOpenApiSchemas(['SpawnResponse']).SpawnResponse as { properties: { created_at: object } };
    expect(schema.properties.created_at).toEqual({ type: 'string', format: 'date-time' });
  });
});
