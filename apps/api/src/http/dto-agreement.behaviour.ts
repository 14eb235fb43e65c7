import type { Type } from '@nestjs/common';
import fc from 'fast-check';
import { z } from 'zod';
import { AppError } from '@mosaic/http-kit';
import { createValidationPipe } from './validation';

/*
 * A DTO validates a body or query for Nest; the contract's zod schema of the
 * same input is what the OpenAPI document and the page are made from. The two
 * must take and refuse the same inputs. This suite derives inputs from the
 * schema (every limit it states, just inside and just outside, wrong types,
 * text PostgreSQL cannot store, unknown fields), feeds them to both, one field
 * at a time and in random combinations, and compares the verdicts.
 */

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: unknown;
  example?: unknown;
};

export interface AgreementCase {
  readonly dto: Type;
  readonly schema: z.ZodObject;
  /** Where Nest reads it from: a query's values are strings. */
  readonly in: 'body' | 'query';
}

type Input = Record<string, unknown>;

const ABSENT = Symbol('absent');

/** Checks that `dto` and `schema` agree on every input derived from the schema. */
export function itAgreesWithItsSchema({ dto, schema, in: where }: AgreementCase): void {
  const pipe = createValidationPipe();
  const dtoTakes = async (input: Input): Promise<boolean> => {
    try {
      await pipe.transform(input, { type: where, metatype: dto });
      return true;
    } catch (error) {
      if (error instanceof AppError && error.code === 'bad_request') return false;
      throw error;
    }
  };
  const verdicts = async (input: Input) => ({ input, dto: await dtoTakes(input), schema: schema.safeParse(input).success });

  const sent = jsonSchemaOf(schema, 'input');
  // A query is described by the values it is read as, its limits among them.
  const read = where === 'body' ? sent : jsonSchemaOf(schema, 'output');
  const fields = Object.entries(read.properties ?? {}).map(([name, field]) => ({
    name,
    values: where === 'body' ? bodyValues(field) : queryValues(field),
  }));
  const base = baseOf({ ...read, required: sent.required }, where);

  it('has a base input both take, which the inputs below vary', async () => {
    expect(await verdicts(base)).toEqual({ input: base, dto: true, schema: true });
  });

  it('takes and refuses the same inputs, one field at a time', async () => {
    const inputs: Input[] = [base, { ...base, unknown_field: 1 }, { ...base, valueOf: 1 }];
    for (const { name, values } of fields) {
      inputs.push(without(base, name));
      for (const value of values) inputs.push({ ...base, [name]: value });
    }
    const results = await Promise.all(inputs.map(verdicts));
    expect(results.filter((result) => result.dto !== result.schema)).toEqual([]);
    // Both sides of every limit are in the inputs: each verdict occurs.
    expect(new Set(results.map((result) => result.dto))).toEqual(new Set([true, false]));
  });

  it('takes and refuses the same inputs, several fields at a time', async () => {
    const input = fc
      .record(
        Object.fromEntries(fields.map(({ name, values }) => [name, fc.constantFrom<unknown>(ABSENT, base[name] ?? ABSENT, ...values)])),
      )
      .map((record) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== ABSENT)));
    await fc.assert(
      fc.asyncProperty(input, async (sample) => {
        const result = await verdicts(sample);
        expect(result.dto).toBe(result.schema);
      }),
      { numRuns: 100 },
    );
  });
}

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as JsonSchema;
}

/** An input with a valid value, its example, for each required field. */
function baseOf(shape: JsonSchema, where: AgreementCase['in']): Input {
  return Object.fromEntries(
    (shape.required ?? []).map((name) => [
      name,
      where === 'body' ? shape.properties?.[name]?.example : String(shape.properties?.[name]?.example),
    ]),
  );
}

function without(input: Input, name: string): Input {
  return Object.fromEntries(Object.entries(input).filter(([key]) => key !== name));
}

/** Values for a body field: of each wrong type, and on both sides of each of its limits. */
function bodyValues(field: JsonSchema, depth = 0): unknown[] {
  const values: unknown[] = [null, true, 1, 'x', [], {}];
  if (field.enum !== undefined) values.push(...field.enum, 'none of these');
  if (field.type === 'string') values.push(...texts(field));
  if (field.type === 'number' || field.type === 'integer') values.push(...numbers(field));
  if (field.type === 'array' && field.items !== undefined) values.push(...arrays(field, field.items, depth));
  if (field.type === 'object' && depth < 2) values.push(...objects(field, depth));
  return values;
}

/** Values for a query parameter: what a URL can carry, a string or a repeated parameter's strings. */
function queryValues(field: JsonSchema): unknown[] {
  const values: unknown[] = ['', 'x', ['1', '2']];
  if (field.enum !== undefined) values.push(...field.enum.map(String), 'none of these', String(field.enum[0]).toUpperCase());
  if (field.type === 'string') values.push(...texts(field));
  if (field.type === 'number' || field.type === 'integer') {
    values.push(...numbers(field).map(String), '1e2', '0x10', ' 5', '5 ', '+5', '-0', '007', '1.0', '9'.repeat(16));
  }
  return values;
}

function texts({ minLength = 0, maxLength }: JsonSchema): string[] {
  const lengths = [0, 1, minLength - 1, minLength, ...(maxLength === undefined ? [] : [maxLength, maxLength + 1])].filter(
    (length) => length >= 0,
  );
  return [
    ...lengths.map((length) => 'x'.repeat(length)),
    // Characters outside the BMP, and one with a variation selector, counted once each.
    ...lengths.filter((length) => length > 0).flatMap((length) => ['😀'.repeat(length), `${'x'.repeat(length - 1)}✔\uFE0F`]),
    'nul \u0000 inside',
    'lone \uD800 surrogate',
    'line\nbreak',
    'c1 \u0085 control',
    ' ',
  ];
}

function numbers({ type, minimum, maximum }: JsonSchema): number[] {
  const limits = [minimum, maximum].filter((limit): limit is number => limit !== undefined);
  return [
    ...limits.flatMap((limit) => [limit - 1, limit - 0.5, limit, limit + 0.5, limit + 1]),
    ...[-1, 0, 1, 1.5, 0.000001, 1e-7, 1.5e-7, 1.1234567, 2 ** 31, 2 ** 53 + 2, 1e300],
  ].filter((value) => type === 'number' || Number.isFinite(value));
}

function arrays(field: JsonSchema, items: JsonSchema, depth: number): unknown[][] {
  const each = bodyValues(items, depth + 1).map((value) => [value]);
  const distinct = items.enum ?? ['a', 'b', 'c', 'd', 'e'].map((text) => text.repeat(Math.max(1, items.minLength ?? 1)));
  const lengths = [field.minItems, field.maxItems]
    .filter((limit): limit is number => limit !== undefined)
    .flatMap((limit) => [limit - 1, limit, limit + 1]);
  const first = distinct[0];
  return [
    ...each,
    [first, first],
    distinct,
    ...lengths.filter((length) => length >= 0).map((length) => Array.from({ length }, (_, index) => distinct[index % distinct.length])),
  ];
}

function objects(field: JsonSchema, depth: number): unknown[] {
  if (field.properties !== undefined) {
    const base = baseOf(field, 'body');
    return [
      { ...base, unknown_field: 1 },
      ...Object.entries(field.properties).flatMap(([name, property]) =>
        bodyValues(property, depth + 1).map((value) => ({ ...base, [name]: value })),
      ),
    ];
  }
  const nested = (levels: number): unknown => (levels === 0 ? 'deep' : { level: nested(levels - 1) });
  return [
    { a: 1 },
    { a: { b: [1, 'two', null] } },
    nested(31),
    nested(32),
    nested(33),
    { 'nul\u0000key': 1 },
    { a: 'nul \u0000 value' },
    { '\uD800': 1 },
  ];
}
