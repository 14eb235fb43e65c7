import fc from 'fast-check';
import { ApiConfig } from '../config/api-config';
import { AppError } from '@mosaic/http-kit';
import { canonicalJson, type JsonObject, type JsonValue } from '@mosaic/orchestrator-contract';
import { REDACTED, TaskContextSerializer, isSecretKey, type DispatchContext, type TaskToSerialize } from './task-context.serializer';

/** A task as stored: with the fields that change by themselves, which the serializer must leave out. */
type Task = TaskToSerialize & { readonly status: string; readonly updatedAt: Date };

const DISPATCH: DispatchContext = {
  sessionId: 'session-1',
  attempt: 1,
  requestedBy: 'operator',
  callbackUrl: 'http://api.test/orchestrator/callbacks/session-1',
};

function serializerWith(maxBytes = 1024 * 1024): TaskContextSerializer {
  return new TaskContextSerializer(ApiConfig.fromEnvironment({ TASK_CONTEXT_MAX_BYTES: String(maxBytes) }));
}

function taskWith(overrides: Partial<Task> = {}): Task {
  return {
    id: 'task-1',
    title: 'Write the report',
    description: 'Quarterly numbers',
    status: 'open',
    priority: 'high',
    labels: ['reports', 'q1'],
    metadata: {},
    agent: null,
    repository: null,
    createdAt: new Date('2026-01-02T03:04:05.678Z'),
    updatedAt: new Date('2026-01-03T00:00:00.000Z'),
    ...overrides,
  };
}

function bytesOf(serialized: ReturnType<TaskContextSerializer['serialize']>): number {
  return Buffer.byteLength(canonicalJson(serialized), 'utf8');
}

/** The same value with every object's keys inserted in reverse order. */
function reversedKeys(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(reversedKeys);
  return Object.fromEntries(
    Object.keys(value)
      .reverse()
      .map((key) => [key, reversedKeys(value[key] as JsonValue)]),
  );
}

const jsonObject = fc.dictionary(fc.string(), fc.jsonValue()) as fc.Arbitrary<JsonObject>;

const taskArbitrary: fc.Arbitrary<Task> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 64 }),
  title: fc.string({ minLength: 1, unit: 'binary' }),
  description: fc.option(fc.string({ unit: 'binary' }), { nil: null }),
  status: fc.constantFrom('open' as const, 'running' as const, 'completed' as const),
  priority: fc.constantFrom('low' as const, 'normal' as const, 'high' as const, 'urgent' as const),
  labels: fc.array(fc.string()),
  metadata: jsonObject,
  agent: fc.constant(null),
  repository: fc.constant(null),
  createdAt: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
  updatedAt: fc.date({ noInvalidDate: true }),
});

const dispatchArbitrary: fc.Arbitrary<DispatchContext> = fc.record({
  sessionId: fc.uuid(),
  attempt: fc.integer({ min: 1, max: 100 }),
  requestedBy: fc.option(fc.string(), { nil: null }),
  callbackUrl: fc.webUrl(),
});

// The test's own idea of secret and harmless keys, independent of the implementation's list.
const SECRET_KEYS = [
  'token',
  'githubToken',
  'GITHUB_TOKEN',
  'access_token',
  'DB_PASSWORD',
  'password',
  'passwd',
  'secret',
  'clientSecret',
  'api_key',
  'apiKey',
  'API-KEY',
  'x-api-key',
  'Authorization',
  'credentials',
  'aws_access_key_id',
  'private_key',
  'sessionKey',
  'Cookie',
  'set-cookie',
];
const PLAIN_KEYS = [
  'name',
  'author',
  'repository',
  'branch',
  'count',
  'tags',
  'url',
  'owner',
  'steps',
  'notes',
  'input_tokens',
  'maxTokens',
  'output_tokens',
];

type Leaf = string | number | boolean | null;

/** Metadata drawn from both key sets; every value under a secret key holds a unique marker. */
const markedMetadata: fc.Arbitrary<JsonObject> = fc
  .letrec<{ node: JsonValue; object: JsonObject }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)) as fc.Arbitrary<Leaf>,
      fc.array(tie('node'), { maxLength: 3 }),
      tie('object'),
    ),
    object: fc.dictionary(fc.constantFrom(...SECRET_KEYS, ...PLAIN_KEYS), tie('node'), { maxKeys: 4 }),
  }))
  .object.map((metadata) => markSecrets(metadata, { next: 0 }) as JsonObject);

function markSecrets(value: JsonValue, counter: { next: number }): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => markSecrets(item, counter));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      if (!SECRET_KEYS.includes(key)) return [key, markSecrets(item, counter)];
      counter.next += 1;
      return [key, [`SECRET-MARKER-${counter.next}`, { nested: `SECRET-MARKER-${counter.next}-inner` }, item]];
    }),
  );
}

/** Checks the output against the input: secrets replaced, everything else untouched. */
function expectRedacted(input: JsonValue, output: JsonValue): void {
  if (input === null || typeof input !== 'object') {
    expect(output).toEqual(input);
    return;
  }
  if (Array.isArray(input)) {
    expect(Array.isArray(output)).toBe(true);
    expect(output).toHaveLength(input.length);
    input.forEach((item, index) => expectRedacted(item, (output as JsonValue[])[index] as JsonValue));
    return;
  }
  const outputObject = output as JsonObject;
  expect(Object.keys(outputObject).sort()).toEqual(Object.keys(input).sort());
  for (const [key, item] of Object.entries(input)) {
    if (SECRET_KEYS.includes(key)) expect(outputObject[key]).toBe(REDACTED);
    else expectRedacted(item, outputObject[key] as JsonValue);
  }
}

describe('TaskContextSerializer', () => {
  it('sends a versioned, snake_case task and context, without the task status or its updated_at', () => {
    const result = serializerWith().serialize(taskWith({ metadata: { repo: 'mosaic', zeta: 1, alpha: { b: 2, a: 1 } } }), DISPATCH);

    expect(JSON.stringify(result)).toBe(
      '{"task":{"created_at":"2026-01-02T03:04:05.678Z","description":"Quarterly numbers","id":"task-1",' +
        '"labels":["reports","q1"],"metadata":{"alpha":{"a":1,"b":2},"repo":"mosaic","zeta":1},"priority":"high",' +
        '"title":"Write the report"},"context":{"attempt":1,"callback_url":"http://api.test/orchestrator/callbacks/session-1",' +
        '"requested_by":"operator","schema_version":2,"session_id":"session-1"}}',
    );
  });

  it('sends the agent and the repository of a task that names them (v3), as given', () => {
    const agent = { kind: 'claude-code' as const, model: 'claude-sonnet-4-5', max_turns: 5 };
    const repository = { url: 'file:///srv/repos/app.git', ref: 'main', push: false };
    const result = serializerWith().serialize(taskWith({ agent, repository }), DISPATCH);

    expect(result.task).toMatchObject({ agent, repository });
    expect(result.context.schema_version).toBe(2);
  });

  it('never carries a callback token', () => {
    const result = serializerWith().serialize(taskWith(), DISPATCH);

    expect(JSON.stringify(result)).not.toMatch(/callback_token/);
  });

  it('redacts secret-looking keys at any depth, also inside arrays', () => {
    const metadata: JsonObject = {
      githubToken: 'ghp_abc',
      env: { DB_PASSWORD: 'hunter2', HOME: '/home/agent' },
      steps: [{ run: 'deploy', auth: { 'x-api-key': 'k-123' } }, { Authorization: 'Bearer xyz' }],
      author: 'ada',
    };

    const result = serializerWith().serialize(taskWith({ metadata }), DISPATCH);

    expect(result.task.metadata).toEqual({
      author: 'ada',
      env: { DB_PASSWORD: REDACTED, HOME: '/home/agent' },
      githubToken: REDACTED,
      steps: [{ auth: REDACTED, run: 'deploy' }, { Authorization: REDACTED }],
    });
    expect(JSON.stringify(result)).not.toMatch(/ghp_abc|hunter2|k-123|xyz/);
  });

  it('keeps a __proto__ key as data', () => {
    const metadata = JSON.parse('{"__proto__": {"password": "p", "kept": 1}}') as JsonObject;

    const result = serializerWith().serialize(taskWith({ metadata }), DISPATCH);

    expect(JSON.stringify(result.task.metadata)).toBe('{"__proto__":{"kept":1,"password":"[REDACTED]"}}');
  });

  it('refuses a task over the size limit, saying by how much', () => {
    const call = () => serializerWith(400).serialize(taskWith({ description: 'x'.repeat(500) }), DISPATCH);

    expect(call).toThrow(AppError);
    expect(call).toThrow(/^task task-1 serializes to \d+ bytes of task and context, over the limit of 400 bytes$/);
  });

  it('refuses a task that does not fit the contract', () => {
    expect(() => serializerWith().serialize(taskWith({ title: '' }), DISPATCH)).toThrow(/does not fit the orchestrator contract: title: /);
  });

  describe('properties', () => {
    it('gives the same bytes for the same task, whatever the key order of its metadata', () => {
      fc.assert(
        fc.property(taskArbitrary, dispatchArbitrary, (task, dispatch) => {
          const serializer = serializerWith();
          const first = serializer.serialize(task, dispatch);
          const again = serializer.serialize({ ...task }, { ...dispatch });
          const reordered = serializer.serialize({ ...task, metadata: reversedKeys(task.metadata) as JsonObject }, dispatch);

          expect(JSON.stringify(again)).toBe(JSON.stringify(first));
          expect(JSON.stringify(reordered)).toBe(JSON.stringify(first));
          expect(canonicalJson(reordered)).toBe(canonicalJson(first));
        }),
      );
    });

    it('never lets a value under a secret-looking key through, and keeps every other value', () => {
      fc.assert(
        fc.property(markedMetadata, (metadata) => {
          const result = serializerWith().serialize(taskWith({ metadata }), DISPATCH);

          expect(JSON.stringify(result)).not.toContain('SECRET-MARKER-');
          expectRedacted(metadata, result.task.metadata as JsonValue);
        }),
      );
    });

    it('throws exactly when the task and context are over the limit', () => {
      fc.assert(
        fc.property(taskArbitrary, dispatchArbitrary, fc.integer({ min: -100, max: 100 }), (task, dispatch, offset) => {
          const size = bytesOf(serializerWith().serialize(task, dispatch));
          const limit = Math.max(1, size + offset);
          const call = () => serializerWith(limit).serialize(task, dispatch);

          if (size > limit) {
            expect(call).toThrow(expect.objectContaining({ code: 'task_context_too_large' }));
          } else {
            expect(bytesOf(call())).toBe(size);
          }
        }),
      );
    });
  });
});

describe('isSecretKey', () => {
  it.each(SECRET_KEYS)('treats %s as a secret', (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each(PLAIN_KEYS)('treats %s as harmless', (key) => {
    expect(isSecretKey(key)).toBe(false);
  });
});
