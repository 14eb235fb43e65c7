import { Injectable } from '@nestjs/common';
import {
  TASK_CONTEXT_SCHEMA_VERSION,
  canonicalJson,
  spawnTaskSchema,
  taskContextSchema,
  validate,
  withSortedKeys,
  type JsonObject,
  type JsonValue,
  type AgentSettings,
  type RepositoryRequest,
  type SpawnRequest,
  type TaskPriority,
} from '@mosaic/orchestrator-contract';
import { ApiConfig } from '../config/api-config';
import { AppError } from '@mosaic/http-kit';

/** What the orchestrator is told about a task: the fields that do not change between dispatches. */
export interface TaskToSerialize {
  readonly id: string;
  readonly title: string;
  readonly description: string | null;
  readonly priority: TaskPriority;
  readonly labels: readonly string[];
  readonly metadata: JsonObject;
  /** (v3) Sent only when set: a task without them serializes as before v3. */
  readonly agent: AgentSettings | null;
  readonly repository: RepositoryRequest | null;
  readonly createdAt: Date;
}

export interface DispatchContext {
  /** The API's session id (not the orchestrator's). */
  readonly sessionId: string;
  readonly attempt: number;
  readonly requestedBy: string | null;
  readonly callbackUrl: string;
}

export interface SerializedTaskContext {
  readonly task: SpawnRequest['task'];
  readonly context: SpawnRequest['context'];
}

export const REDACTED = '[REDACTED]';

/**
 * Matched against a key lower-cased and stripped of everything but letters
 * and digits, so `githubToken`, `DB_PASSWORD` and `x-api-key` all match.
 */
const SECRET_KEY_PARTS = [
  'token',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'apikey',
  'authorization',
  'credential',
  'privatekey',
  'accesskey',
  'sessionkey',
  'cookie',
  'bearer',
];

/**
 * Counts of a model's tokens (`input_tokens`, `maxTokens`), which AI tasks
 * carry as settings: numbers of tokens, not tokens. Only these exact names.
 */
const TOKEN_COUNT_KEYS = new Set([
  'inputtokens',
  'outputtokens',
  'maxtokens',
  'totaltokens',
  'prompttokens',
  'completiontokens',
  'maxoutputtokens',
]);

export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (TOKEN_COUNT_KEYS.has(normalized)) return false;
  // `auth` only as the end of a key: `basicAuth`, `oauth`, but not `author`.
  return normalized.endsWith('auth') || SECRET_KEY_PARTS.some((part) => normalized.includes(part));
}

/**
 * What the orchestrator (and the agent behind it) learns about a task: the
 * versioned, snake_case document of the contract's `task` and `context`.
 *
 * Deterministic: the same task and dispatch give the same bytes, because a
 * retried or replayed spawn must carry the same body as the first one under
 * the same idempotency key (the orchestrator answers 422 otherwise). So it
 * leaves out what changes by itself between attempts (the task's status and
 * `updated_at`) and adds no clock reading of its own.
 */
@Injectable()
export class TaskContextSerializer {
  constructor(private readonly config: ApiConfig) {}

  serialize(task: TaskToSerialize, dispatch: DispatchContext): SerializedTaskContext {
    const taskDocument = withSortedKeys<JsonObject>({
      id: task.id,
      title: task.title,
      description: task.description,
      priority: task.priority,
      labels: [...task.labels],
      metadata: redact(task.metadata),
      created_at: task.createdAt.toISOString(),
      ...(task.agent === null ? {} : { agent: { ...task.agent } }),
      ...(task.repository === null ? {} : { repository: { ...task.repository } }),
    });
    const contextDocument = withSortedKeys<JsonObject>({
      schema_version: TASK_CONTEXT_SCHEMA_VERSION,
      session_id: dispatch.sessionId,
      attempt: dispatch.attempt,
      requested_by: dispatch.requestedBy,
      callback_url: dispatch.callbackUrl,
    });

    const size = Buffer.byteLength(canonicalJson({ task: taskDocument, context: contextDocument }), 'utf8');
    if (size > this.config.taskContextMaxBytes) {
      throw new AppError(
        'task_context_too_large',
        `task ${task.id} serializes to ${size} bytes of task and context, over the limit of ${this.config.taskContextMaxBytes} bytes`,
      );
    }

    const validTask = validate(spawnTaskSchema, taskDocument);
    const validContext = validate(taskContextSchema, contextDocument);
    if (!validTask.ok || !validContext.ok) {
      // Tasks are validated when created, so this is a bug on our side, not the caller's.
      const message = [validTask, validContext].flatMap((result) => (result.ok ? [] : [result.message])).join('; ');
      throw new Error(`task ${task.id} does not fit the orchestrator contract: ${message}`);
    }
    return { task: taskDocument as SpawnRequest['task'], context: contextDocument as SpawnRequest['context'] };
  }
}

/** Replaces the value under every secret-looking key, at any depth and inside arrays. */
function redact(value: JsonObject): JsonObject;
function redact(value: JsonValue): JsonValue;
function redact(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, isSecretKey(key) ? REDACTED : redact(item)]));
}
