// Proves that applying prisma/migrations yields exactly the database that
// prisma/schema.prisma describes. Prisma's engine would detect drift itself, but
// the project runs without its engine binary (docs/adr/0003-own-migration-applier.md), so this test is the only guard
// against a schema change that has no migration, or a migration that does more
// than the schema says.
//
// The schema side comes from a strict parser of schema.prisma: Prisma's own
// DMMF needs `@prisma/internals`, which is not a dependency, and the generated
// client keeps only names, not types, defaults or indexes. The parser throws
// on every construct it does not understand, so a new kind of attribute makes
// this test fail until it is taught the construct, rather than pass unchecked;
// its model, field and enum names are cross-checked against the generated client.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { testDatabaseUrl, withClient } from '../../../../test/support/database';
import * as generatedEnums from './generated/prisma/enums';
// The browser flavour of the namespace: same ModelName / *ScalarFieldEnum, but
// without the `.js`-suffixed relative imports Jest cannot resolve.
import * as Prisma from './generated/prisma/internal/prismaNamespaceBrowser';
import { findMigrationsDir } from './migrator';

const schemaPath = path.join(path.dirname(findMigrationsDir()), 'schema.prisma');

// ---------------------------------------------------------------------------
// schema.prisma parser

type Value = string | number | boolean | Value[] | Call;
interface Call {
  call: string;
  args: Arg[];
}
interface Arg {
  name?: string;
  value: Value;
}
interface Attribute {
  name: string;
  args: Arg[];
}
interface FieldDecl {
  name: string;
  type: string;
  optional: boolean;
  list: boolean;
  attributes: Attribute[];
}
interface Block {
  kind: string;
  name: string;
  fields: FieldDecl[];
  blockAttributes: Attribute[];
}

/** Removes `//` comments (also `///` doc comments) outside string literals. */
function stripComments(source: string): string {
  return source
    .split('\n')
    .map((line) => {
      let inString = false;
      for (let i = 0; i < line.length; i++) {
        if (line[i] === '"' && line[i - 1] !== '\\') inString = !inString;
        if (!inString && line[i] === '/' && line[i + 1] === '/') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}
  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] ?? '')) this.pos++;
  }
  peek(): string {
    this.skipSpace();
    return this.text[this.pos] ?? '';
  }
  expect(char: string): void {
    if (this.peek() !== char) throw new Error(`Expected "${char}" at "${this.text.slice(this.pos, this.pos + 30)}"`);
    this.pos++;
  }
  identifier(): string {
    this.skipSpace();
    const match = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(this.text.slice(this.pos));
    if (!match) throw new Error(`Expected an identifier at "${this.text.slice(this.pos, this.pos + 30)}"`);
    this.pos += match[0].length;
    return match[0];
  }
  value(): Value {
    const char = this.peek();
    if (char === '"') {
      const match = /^"((?:[^"\\]|\\.)*)"/.exec(this.text.slice(this.pos));
      if (!match) throw new Error('Unterminated string');
      this.pos += match[0].length;
      return JSON.parse(match[0]) as string;
    }
    if (char === '[') {
      this.pos++;
      const items: Value[] = [];
      while (this.peek() !== ']') {
        items.push(this.value());
        if (this.peek() === ',') this.pos++;
      }
      this.pos++;
      return items;
    }
    const number = /^-?\d+(\.\d+)?/.exec(this.text.slice(this.pos));
    if (number) {
      this.pos += number[0].length;
      return Number(number[0]);
    }
    const name = this.identifier();
    if (name === 'true' || name === 'false') return name === 'true';
    return this.peek() === '(' ? { call: name, args: this.args() } : { call: name, args: [] };
  }
  args(): Arg[] {
    this.expect('(');
    const args: Arg[] = [];
    while (this.peek() !== ')') {
      const named = /^([A-Za-z_][A-Za-z0-9_]*)\s*:/.exec(this.text.slice(this.pos));
      if (named) this.pos += named[0].length;
      args.push({ name: named?.[1], value: this.value() });
      if (this.peek() === ',') this.pos++;
    }
    this.pos++;
    return args;
  }
  attributes(): Attribute[] {
    const attributes: Attribute[] = [];
    // `@@` starts the model's next block attribute, not one of this field's.
    while (this.peek() === '@' && this.text[this.pos + 1] !== '@') {
      this.pos++;
      const name = this.identifier();
      attributes.push({ name, args: this.text[this.pos] === '(' ? this.args() : [] });
    }
    return attributes;
  }
}

function parseSchema(source: string): Block[] {
  const scanner = new Scanner(stripComments(source));
  const blocks: Block[] = [];
  while (scanner.peek() !== '') {
    const kind = scanner.identifier();
    const name = scanner.identifier();
    scanner.expect('{');
    const block: Block = { kind, name, fields: [], blockAttributes: [] };
    if (kind === 'generator' || kind === 'datasource') {
      while (scanner.peek() !== '}') {
        scanner.identifier();
        scanner.expect('=');
        scanner.value();
      }
    } else if (kind === 'model' || kind === 'enum') {
      while (scanner.peek() !== '}') {
        if (scanner.text.startsWith('@@', scanner.pos)) {
          scanner.pos++;
          block.blockAttributes.push(...scanner.attributes());
          continue;
        }
        const fieldName = scanner.identifier();
        if (kind === 'enum') {
          block.fields.push({ name: fieldName, type: '', optional: false, list: false, attributes: scanner.attributes() });
          continue;
        }
        const type = scanner.identifier();
        let list = false;
        let optional = false;
        if (scanner.text.startsWith('[]', scanner.pos)) {
          list = true;
          scanner.pos += 2;
        } else if (scanner.text[scanner.pos] === '?') {
          optional = true;
          scanner.pos++;
        }
        block.fields.push({ name: fieldName, type, optional, list, attributes: scanner.attributes() });
      }
    } else {
      throw new Error(`schema.prisma: the drift test does not understand "${kind}" blocks yet`);
    }
    scanner.expect('}');
    blocks.push(block);
  }
  return blocks;
}

// ---------------------------------------------------------------------------
// What PostgreSQL should contain according to the schema

interface Column {
  table: string;
  column: string;
  type: string;
  nullable: boolean;
  default: string | null;
}
interface Index {
  table: string;
  name: string;
  unique: boolean;
  primary: boolean;
  columns: string[];
  method: string;
  partial: boolean;
}
interface ForeignKey {
  table: string;
  name: string;
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: string;
  onUpdate: string;
}
interface DatabaseShape {
  tables: string[];
  columns: Column[];
  enums: Record<string, string[]>;
  indexes: Index[];
  foreignKeys: ForeignKey[];
}

const attribute = (attributes: Attribute[], name: string): Attribute | undefined => attributes.find((a) => a.name === name);
const stringArg = (attr: Attribute | undefined, name?: string): string | undefined => {
  const arg = attr?.args.find((a) => (name ? a.name === name : a.name === undefined));
  if (arg === undefined) return undefined;
  if (typeof arg.value !== 'string') throw new Error(`@${attr?.name}: expected a string`);
  return arg.value;
};
const callName = (value: Value): string => {
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`Expected a name, got ${JSON.stringify(value)}`);
  return value.call;
};
const listArg = (attr: Attribute, name: string): Value[] => {
  // `fields` may also be given positionally, as in @@index([a, b]).
  const arg = attr.args.find((a) => a.name === name) ?? (name === 'fields' ? attr.args.find((a) => a.name === undefined) : undefined);
  if (!arg || !Array.isArray(arg.value)) throw new Error(`@${attr.name}: expected a list`);
  return arg.value;
};

const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Boolean: 'boolean',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
};

const NATIVE_TYPES: Record<string, (args: number[]) => string> = {
  Uuid: () => 'uuid',
  Text: () => 'text',
  VarChar: ([n]) => (n === undefined ? 'character varying' : `character varying(${n})`),
  Char: ([n]) => `character(${n ?? 1})`,
  Timestamptz: ([p]) => `timestamp(${p ?? 6}) with time zone`,
  Timestamp: ([p]) => `timestamp(${p ?? 6}) without time zone`,
  Date: () => 'date',
  SmallInt: () => 'smallint',
  Integer: () => 'integer',
  BigInt: () => 'bigint',
  DoublePrecision: () => 'double precision',
  Real: () => 'real',
  Decimal: ([p, s]) => (p === undefined ? 'numeric' : `numeric(${p},${s ?? 0})`),
  JsonB: () => 'jsonb',
  Json: () => 'json',
};

// Prisma's default relation actions: a required relation restricts deletion, an
// optional one sets NULL; updates cascade.
const REFERENTIAL_ACTIONS: Record<string, string> = {
  Cascade: 'CASCADE',
  Restrict: 'RESTRICT',
  NoAction: 'NO ACTION',
  SetNull: 'SET NULL',
  SetDefault: 'SET DEFAULT',
};

const KNOWN_FIELD_ATTRIBUTES = new Set(['id', 'default', 'map', 'unique', 'updatedAt', 'relation']);
const KNOWN_MODEL_ATTRIBUTES = new Set(['map', 'index', 'unique', 'id']);

function expectedShape(blocks: Block[]): DatabaseShape {
  const enums = new Map(blocks.filter((b) => b.kind === 'enum').map((b) => [b.name, b]));
  const models = new Map(blocks.filter((b) => b.kind === 'model').map((b) => [b.name, b]));
  const tableOf = (model: Block): string => stringArg(attribute(model.blockAttributes, 'map')) ?? model.name;
  const enumDbName = (e: Block): string => stringArg(attribute(e.blockAttributes, 'map')) ?? e.name;
  const columnOf = (model: Block, fieldName: string): string => {
    const field = model.fields.find((f) => f.name === fieldName);
    if (!field) throw new Error(`${model.name} has no field ${fieldName}`);
    return stringArg(attribute(field.attributes, 'map')) ?? field.name;
  };

  const shape: DatabaseShape = { tables: [], columns: [], enums: {}, indexes: [], foreignKeys: [] };
  for (const e of enums.values()) {
    for (const attr of e.blockAttributes) if (attr.name !== 'map') throw new Error(`enum ${e.name}: @@${attr.name} unsupported`);
    shape.enums[enumDbName(e)] = e.fields.map((value) => {
      for (const attr of value.attributes) if (attr.name !== 'map') throw new Error(`enum ${e.name}: @${attr.name} unsupported`);
      return stringArg(attribute(value.attributes, 'map')) ?? value.name;
    });
  }

  for (const model of models.values()) {
    const table = tableOf(model);
    shape.tables.push(table);
    for (const attr of model.blockAttributes) {
      if (!KNOWN_MODEL_ATTRIBUTES.has(attr.name)) throw new Error(`model ${model.name}: @@${attr.name} unsupported`);
    }

    /** `fields` of @@index/@@unique/@@id as index columns with their sort order. */
    const indexColumns = (values: Value[]): { columns: string[]; names: string[] } => {
      const names: string[] = [];
      const columns = values.map((value) => {
        const call = value as Call;
        const column = columnOf(model, callName(call));
        names.push(column);
        for (const arg of call.args) {
          if (arg.name !== 'sort') throw new Error(`model ${model.name}: index argument ${arg.name ?? '?'} unsupported`);
        }
        const sort = call.args.find((a) => a.name === 'sort');
        return sort && callName(sort.value) === 'Desc' ? `${column} DESC` : column;
      });
      return { columns, names };
    };
    const addIndex = (attr: Attribute, kind: 'idx' | 'key' | 'pkey', values: Value[]): void => {
      for (const arg of attr.args) {
        if (arg.name !== undefined && arg.name !== 'fields' && arg.name !== 'map') {
          throw new Error(`model ${model.name}: @@${attr.name}(${arg.name}: …) unsupported`);
        }
      }
      const { columns, names } = indexColumns(values);
      const name = stringArg(attr, 'map') ?? (kind === 'pkey' ? `${table}_pkey` : `${table}_${names.join('_')}_${kind}`);
      if (name.length > 63) throw new Error(`${name}: Prisma would truncate this name; give it a map:`);
      shape.indexes.push({ table, name, unique: kind !== 'idx', primary: kind === 'pkey', columns, method: 'btree', partial: false });
    };

    for (const field of model.fields) {
      for (const attr of field.attributes) {
        if (!KNOWN_FIELD_ATTRIBUTES.has(attr.name) && !attr.name.startsWith('db.')) {
          throw new Error(`${model.name}.${field.name}: @${attr.name} unsupported`);
        }
      }
      const target = models.get(field.type);
      if (target) {
        const relation = attribute(field.attributes, 'relation');
        const fields = relation?.args.find((a) => a.name === 'fields');
        if (!relation || !fields) continue; // the back-relation side has no column
        for (const arg of relation.args) {
          if (!['fields', 'references', 'onDelete', 'onUpdate'].includes(arg.name ?? '')) {
            throw new Error(`${model.name}.${field.name}: @relation argument ${arg.name ?? '(name)'} unsupported`);
          }
        }
        const columns = listArg(relation, 'fields').map((v) => columnOf(model, callName(v)));
        const action = (name: string, fallback: string): string => {
          const arg = relation.args.find((a) => a.name === name);
          return arg ? (REFERENTIAL_ACTIONS[callName(arg.value)] ?? 'unknown') : fallback;
        };
        shape.foreignKeys.push({
          table,
          name: `${table}_${columns.join('_')}_fkey`,
          columns,
          referencedTable: tableOf(target),
          referencedColumns: listArg(relation, 'references').map((v) => columnOf(target, callName(v))),
          onDelete: action('onDelete', field.optional ? 'SET NULL' : 'RESTRICT'),
          onUpdate: action('onUpdate', 'CASCADE'),
        });
        continue;
      }

      const column = stringArg(attribute(field.attributes, 'map')) ?? field.name;
      const enumBlock = enums.get(field.type);
      const native = field.attributes.filter((a) => a.name.startsWith('db.'));
      if (native.length > 1) throw new Error(`${model.name}.${field.name}: several @db attributes`);
      let type: string;
      if (enumBlock) {
        type = enumDbName(enumBlock);
      } else if (native[0]) {
        const nativeType = NATIVE_TYPES[native[0].name.slice(3)];
        if (!nativeType) throw new Error(`${model.name}.${field.name}: @${native[0].name} unsupported`);
        type = nativeType(native[0].args.map((a) => a.value as number));
      } else {
        const scalar = SCALAR_TYPES[field.type];
        if (!scalar) throw new Error(`${model.name}.${field.name}: type ${field.type} unsupported`);
        type = scalar;
      }
      if (field.list) type = `${type}[]`;

      shape.columns.push({
        table,
        column,
        type,
        // Prisma never makes list columns NOT NULL.
        nullable: field.optional || field.list,
        default: expectedDefault(attribute(field.attributes, 'default'), { table, column, type, enumType: enumBlock && type }),
      });

      const id = attribute(field.attributes, 'id');
      if (id) addIndex(id, 'pkey', [{ call: field.name, args: [] }]);
      const unique = attribute(field.attributes, 'unique');
      if (unique) addIndex(unique, 'key', [{ call: field.name, args: [] }]);
    }

    for (const attr of model.blockAttributes) {
      if (attr.name === 'index') addIndex(attr, 'idx', listArg(attr, 'fields'));
      if (attr.name === 'unique') addIndex(attr, 'key', listArg(attr, 'fields'));
      if (attr.name === 'id') addIndex(attr, 'pkey', listArg(attr, 'fields'));
    }
  }
  return shape;
}

/** The default expression PostgreSQL reports (pg_get_expr) for a Prisma @default. */
function expectedDefault(
  attr: Attribute | undefined,
  column: { table: string; column: string; type: string; enumType?: string },
): string | null {
  if (!attr) return null;
  const value = attr.args[0]?.value;
  if (value === undefined || attr.args.length > 1) throw new Error(`${column.table}.${column.column}: @default form unsupported`);
  if (typeof value === 'object' && !Array.isArray(value)) {
    if (column.enumType && value.args.length === 0 && value.call !== 'now') return `'${value.call}'::${column.enumType}`;
    switch (value.call) {
      case 'now':
        return 'CURRENT_TIMESTAMP';
      case 'autoincrement':
        return `nextval('${column.table}_${column.column}_seq'::regclass)`;
      // Generated by the client, so the column has no default.
      case 'uuid':
      case 'cuid':
      case 'nanoid':
      case 'ulid':
        return null;
      case 'dbgenerated':
        return typeof value.args[0]?.value === 'string' ? value.args[0].value : null;
      default:
        throw new Error(`${column.table}.${column.column}: @default(${value.call}()) unsupported`);
    }
  }
  const baseType = column.type.replace(/\[\]$/, '');
  if (Array.isArray(value)) {
    if (value.length > 0) throw new Error(`${column.table}.${column.column}: non-empty list defaults unsupported`);
    return `ARRAY[]::${column.type}`;
  }
  if (typeof value === 'string') return `'${value.replace(/'/g, "''")}'::${baseType}`;
  return String(value);
}

// ---------------------------------------------------------------------------
// What PostgreSQL contains

const ACTION_CODES: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

async function actualShape(url: string): Promise<DatabaseShape> {
  return withClient(url, async (client) => {
    const tables = await client.query<{ table: string }>(
      `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname <> '_prisma_migrations'`,
    );
    const columns = await client.query<Column>(
      `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
              NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname <> '_prisma_migrations'
          AND a.attnum > 0 AND NOT a.attisdropped`,
    );
    const enums = await client.query<{ name: string; values: string[] }>(
      `SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = current_schema() GROUP BY t.typname`,
    );
    const indexes = await client.query<Index>(
      `SELECT t.relname AS table, i.relname AS name, x.indisunique AS unique, x.indisprimary AS primary,
              am.amname AS method, x.indpred IS NOT NULL AS partial,
              ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                           || CASE WHEN x.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                      FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k) AS columns
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_am am ON am.oid = i.relam
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema() AND t.relname <> '_prisma_migrations'`,
    );
    const foreignKeys = await client.query<ForeignKey & { onDelete: string; onUpdate: string }>(
      `SELECT t.relname AS table, con.conname AS name, r.relname AS "referencedTable",
              ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
              ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS "referencedColumns",
              con.confdeltype AS "onDelete", con.confupdtype AS "onUpdate"
         FROM pg_constraint con
         JOIN pg_class t ON t.oid = con.conrelid
         JOIN pg_class r ON r.oid = con.confrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema() AND con.contype = 'f'`,
    );
    return {
      tables: tables.rows.map((row) => row.table),
      columns: columns.rows,
      enums: Object.fromEntries(enums.rows.map((row) => [row.name, row.values])),
      indexes: indexes.rows,
      foreignKeys: foreignKeys.rows.map((fk) => ({
        ...fk,
        onDelete: ACTION_CODES[fk.onDelete] ?? fk.onDelete,
        onUpdate: ACTION_CODES[fk.onUpdate] ?? fk.onUpdate,
      })),
    };
  });
}

// ---------------------------------------------------------------------------

const byKey = <T>(items: T[], key: (item: T) => string): T[] => [...items].sort((a, b) => key(a).localeCompare(key(b)));

describe('migrated database versus prisma/schema.prisma', () => {
  const blocks = parseSchema(readFileSync(schemaPath, 'utf8'));
  const expected = expectedShape(blocks);
  let actual: DatabaseShape;

  beforeAll(async () => {
    actual = await actualShape(testDatabaseUrl());
  });

  it('parses the same models, fields and enums as the generated Prisma client (else run `pnpm db:generate`)', () => {
    const models = blocks.filter((b) => b.kind === 'model');
    expect(models.map((m) => m.name).sort()).toEqual(Object.values(Prisma.ModelName).sort());
    for (const model of models) {
      const scalarFields = model.fields.filter((f) => !models.some((m) => m.name === f.type)).map((f) => f.name);
      const generated = (Prisma as unknown as Record<string, Record<string, string>>)[`${model.name}ScalarFieldEnum`];
      expect({ model: model.name, fields: scalarFields.sort() }).toEqual({
        model: model.name,
        fields: Object.values(generated ?? {}).sort(),
      });
    }
    const enums = Object.fromEntries(blocks.filter((b) => b.kind === 'enum').map((b) => [b.name, b.fields.map((f) => f.name)]));
    const clientEnums = Object.fromEntries(
      Object.entries(generatedEnums)
        .filter(([name]) => name !== 'default')
        .map(([name, values]) => [name, Object.values(values as Record<string, string>)]),
    );
    expect(enums).toEqual(clientEnums);
  });

  it('has exactly the tables of the models', () => {
    expect(actual.tables.sort()).toEqual(expected.tables.sort());
  });

  it('has exactly the enums and values of the schema, in order', () => {
    expect(actual.enums).toEqual(expected.enums);
  });

  it('has exactly the columns of the fields, with their types, nullability and defaults', () => {
    const key = (c: Column): string => `${c.table}.${c.column}`;
    expect(byKey(actual.columns, key)).toEqual(byKey(expected.columns, key));
  });

  it('has exactly the primary keys, unique and plain indexes of the schema, with column order and sort direction', () => {
    const key = (i: Index): string => `${i.table}.${i.name}`;
    expect(byKey(actual.indexes, key)).toEqual(byKey(expected.indexes, key));
  });

  it('has exactly the foreign keys of the relations, with their referential actions', () => {
    const key = (f: ForeignKey): string => `${f.table}.${f.name}`;
    expect(byKey(actual.foreignKeys, key)).toEqual(byKey(expected.foreignKeys, key));
  });
});
