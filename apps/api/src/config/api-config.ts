import { Injectable } from '@nestjs/common';
import path from 'node:path';
import { z } from 'zod';
import {
  type Environment,
  envBearerSecret,
  envInteger,
  envPositiveNumber,
  envText,
  envUrl,
  readEnvironment,
  refuseDevelopmentSecrets,
} from '@mosaic/http-kit';
import { ARTIFACT_DEFAULT_MAX_BYTES, DEVELOPMENT_ORCHESTRATOR_API_KEY, callbackPath } from '@mosaic/orchestrator-contract';
import { LOG_LEVELS, type LogLevel } from '@mosaic/observability';

/** A development value for a secret, used (with a warning at start-up) when the variable is unset. */
export const DEVELOPMENT_MOSAIC_API_TOKEN = 'dev-mosaic-token-change-me';
export const DEVELOPMENT_CALLBACK_SIGNING_KEY = 'dev-callback-signing-key-change-me';

const port = envInteger('a port number', 0, 65535);
const milliseconds = envInteger('a number of milliseconds', 1);
const count = envInteger('a whole number', 1);
const httpUrl = envUrl(['http', 'https']).transform((url) => url.replace(/\/+$/, ''));
const postgresUrl = envUrl(['postgres', 'postgresql']);
/**
 * The most ARTIFACT_MAX_BYTES may be: a callback holds its artifact in memory several times over (the body, its
 * base64 text, the decoded bytes, the statement's parameter) while it is stored.
 */
const ARTIFACT_MAX_BYTES_CEILING = 64 * 1024 * 1024;
/** One orchestrator node's URL, or several nodes' separated by commas (docs/contract.md §5; v2). */
const httpUrls = envText()
  .transform((value) => value.split(',').map((url) => url.trim()))
  .pipe(z.array(httpUrl));

/** Variables whose values an error message must not show: every URL, since any may carry a user and password. */
const SECRETS = ['DATABASE_URL', 'ORCHESTRATOR_URL', 'PUBLIC_BASE_URL', 'MOSAIC_API_TOKEN', 'ORCHESTRATOR_API_KEY', 'CALLBACK_SIGNING_KEY'];

const environmentSchema = z.object({
  PORT: port.default(3000),
  HOST: envText().default('127.0.0.1'),
  DATABASE_URL: postgresUrl.optional(),
  EMBEDDED_DATABASE_PORT: port.default(5433),
  EMBEDDED_DATABASE_DIR: envText().optional(),
  ORCHESTRATOR_URL: httpUrls.default(['http://127.0.0.1:3100']),
  ORCHESTRATOR_API_KEY: envBearerSecret().optional(),
  PUBLIC_BASE_URL: httpUrl.optional(),
  MOSAIC_API_TOKEN: envBearerSecret().optional(),
  CALLBACK_SIGNING_KEY: envText().optional(),
  ORCHESTRATOR_SPAWN_TIMEOUT_MS: milliseconds.default(10_000),
  ORCHESTRATOR_STATUS_TIMEOUT_MS: milliseconds.default(5_000),
  ORCHESTRATOR_KILL_TIMEOUT_MS: milliseconds.default(15_000),
  ORCHESTRATOR_LIST_TIMEOUT_MS: milliseconds.default(5_000),
  ORCHESTRATOR_HEALTH_TIMEOUT_MS: milliseconds.default(2_000),
  ORCHESTRATOR_RETRY_ATTEMPTS: envInteger('a whole number', 0, 10).default(3),
  ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: milliseconds.default(200),
  ORCHESTRATOR_RETRY_MAX_DELAY_MS: milliseconds.default(5_000),
  ORCHESTRATOR_BREAKER_FAILURES: count.default(5),
  ORCHESTRATOR_BREAKER_HALF_OPEN_AFTER_MS: milliseconds.default(10_000),
  CALLBACK_TOKEN_TTL_MS: milliseconds.default(24 * 60 * 60 * 1000),
  CALLBACK_TOKEN_TERMINAL_GRACE_MS: milliseconds.default(5 * 60 * 1000),
  RECONCILE_INTERVAL_MS: milliseconds.default(15_000),
  RECONCILE_STALE_AFTER_MS: milliseconds.default(30_000),
  TASK_CONTEXT_MAX_BYTES: count.default(128 * 1024),
  ARTIFACT_MAX_BYTES: envInteger('a number of bytes', 1, ARTIFACT_MAX_BYTES_CEILING).default(ARTIFACT_DEFAULT_MAX_BYTES),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  SHUTDOWN_GRACE_MS: milliseconds.default(10_000),
  DATABASE_STATEMENT_TIMEOUT_MS: milliseconds.default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: milliseconds.default(30_000),
  METRICS_SESSION_COUNT_MAX_AGE_MS: envInteger('a number of milliseconds', 0).default(10_000),
  STREAM_HEARTBEAT_MS: milliseconds.default(15_000),
  MOSAIC_DAILY_COST_LIMIT_USD: envPositiveNumber('an amount of US dollars').optional(),
  SESSION_SPEND_CEILING_USD: envPositiveNumber('an amount of US dollars').default(100),
  BUDGET_CANCEL_GRACE_MS: envInteger('a number of milliseconds', 0, 600_000).default(10_000),
  BUDGET_CHECK_INTERVAL_MS: milliseconds.default(1_000),
  STREAM_MAX_BUFFERED_BYTES: envInteger('a number of bytes', 64 * 1024).default(1024 * 1024),
  STREAM_MAX_PER_KEY: count.default(100),
  STREAM_MAX_PER_ADDRESS: count.default(100),
  STREAM_MAX_TOTAL: count.default(1_000),
  STREAM_MAX_LIFE_MS: milliseconds.default(30 * 60 * 1000),
});

/** The settings `pnpm db:migrate` reads: it needs the database only, never the service's secrets (docs/contract.md §5). */
const databaseSchema = environmentSchema.pick({ DATABASE_URL: true, EMBEDDED_DATABASE_PORT: true, EMBEDDED_DATABASE_DIR: true });

export type DatabaseSettings = Pick<ApiConfig, 'databaseUrl' | 'embeddedDatabase'>;

/**
 * The API's whole configuration, validated once at start-up and injected by
 * type. Nothing else in the API reads the environment.
 */
@Injectable()
export class ApiConfig {
  readonly port: number;
  readonly host: string;
  /** Unset means: start the embedded PostgreSQL (see `database/default-database.ts`). */
  readonly databaseUrl: string | undefined;
  readonly embeddedDatabase: { readonly port: number; readonly dataDir: string | undefined };
  readonly publicBaseUrl: string;
  readonly mosaicApiToken: string;
  /** The server key each session's callback signing secret is derived from (CallbackSigning). */
  readonly callbackSigningKey: string;
  readonly orchestrator: {
    /** Its nodes, in the order given; the client spreads calls over them. */
    readonly urls: readonly string[];
    readonly apiKey: string;
    readonly timeoutsMs: {
      readonly spawn: number;
      readonly status: number;
      readonly kill: number;
      readonly list: number;
      readonly health: number;
    };
    readonly retry: { readonly attempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number };
    readonly breaker: { readonly consecutiveFailures: number; readonly halfOpenAfterMs: number };
    /** The longest a dispatch can keep trying one spawn: every attempt timing out, every backoff at its cap. */
    readonly spawnDeadlineMs: number;
  };
  readonly callbackToken: { readonly ttlMs: number; readonly terminalGraceMs: number };
  readonly reconciliation: { readonly intervalMs: number; readonly staleAfterMs: number };
  readonly taskContextMaxBytes: number;
  /** (v3) The most of one artifact's content a callback may carry (contract 7.2); the callback route's body limit follows it. */
  readonly artifactMaxBytes: number;
  readonly logLevel: LogLevel;
  /** How long a SIGTERM waits for in-flight requests before it cuts their connections. */
  readonly shutdownGraceMs: number;
  /**
   * Longest a statement may run before PostgreSQL cancels it: far above any
   * statement of this API (a batch of callbacks takes milliseconds), so it only
   * ends one stuck behind a lock, which is then answered 503.
   */
  readonly databaseStatementTimeoutMs: number;
  /** Longest a client may take to send a whole request (slow senders hold a socket and a body buffer). */
  readonly httpRequestTimeoutMs: number;
  /**
   * How long a count of sessions by status serves `/metrics` scrapes: the
   * endpoint is open and the count is a GROUP BY over every session, so
   * scrapes more frequent than this cost the database nothing.
   */
  readonly sessionCountMaxAgeMs: number;
  /** Live event streams: how often an idle one sends a heartbeat, and how far a client may fall behind before it is cut off. */
  readonly streams: { readonly heartbeatMs: number; readonly maxBufferedBytes: number };
  /**
   * How many live streams this process holds at most: per operator key (the
   * administrator's token counts as one), per client address and in all; and
   * how long one lives before it ends and its client resumes.
   */
  readonly streamLimits: { readonly perKey: number; readonly perAddress: number; readonly total: number; readonly maxLifeMs: number };
  /**
   * Budgets: the grace a session that passed its task's budget gets to stop, how often running times are checked
   * against `max_duration_s`, and the day's (UTC) cost past which dispatches are refused (undefined: no limit).
   */
  readonly budgets: {
    readonly cancelGraceMs: number;
    readonly checkIntervalMs: number;
    readonly dailyCostLimitUsd: number | undefined;
    /** The most of one session's cost that counts against the day (its task's max_cost_usd when lower). */
    readonly sessionSpendCeilingUsd: number;
  };
  /** Names of secrets that fell back to development values; main.ts warns about each. */
  readonly developmentDefaults: readonly string[];

  constructor(values: z.output<typeof environmentSchema>) {
    this.port = values.PORT;
    this.host = values.HOST;
    this.databaseUrl = values.DATABASE_URL;
    this.embeddedDatabase = embeddedDatabaseOf(values);
    this.publicBaseUrl = values.PUBLIC_BASE_URL ?? `http://127.0.0.1:${values.PORT}`;
    this.mosaicApiToken = values.MOSAIC_API_TOKEN ?? DEVELOPMENT_MOSAIC_API_TOKEN;
    this.callbackSigningKey = values.CALLBACK_SIGNING_KEY ?? DEVELOPMENT_CALLBACK_SIGNING_KEY;
    this.orchestrator = {
      urls: values.ORCHESTRATOR_URL,
      apiKey: values.ORCHESTRATOR_API_KEY ?? DEVELOPMENT_ORCHESTRATOR_API_KEY,
      timeoutsMs: {
        spawn: values.ORCHESTRATOR_SPAWN_TIMEOUT_MS,
        status: values.ORCHESTRATOR_STATUS_TIMEOUT_MS,
        kill: values.ORCHESTRATOR_KILL_TIMEOUT_MS,
        list: values.ORCHESTRATOR_LIST_TIMEOUT_MS,
        health: values.ORCHESTRATOR_HEALTH_TIMEOUT_MS,
      },
      retry: {
        attempts: values.ORCHESTRATOR_RETRY_ATTEMPTS,
        initialDelayMs: values.ORCHESTRATOR_RETRY_INITIAL_DELAY_MS,
        maxDelayMs: values.ORCHESTRATOR_RETRY_MAX_DELAY_MS,
      },
      breaker: {
        consecutiveFailures: values.ORCHESTRATOR_BREAKER_FAILURES,
        halfOpenAfterMs: values.ORCHESTRATOR_BREAKER_HALF_OPEN_AFTER_MS,
      },
      spawnDeadlineMs:
        (values.ORCHESTRATOR_RETRY_ATTEMPTS + 1) * values.ORCHESTRATOR_SPAWN_TIMEOUT_MS +
        values.ORCHESTRATOR_RETRY_ATTEMPTS * values.ORCHESTRATOR_RETRY_MAX_DELAY_MS,
    };
    this.callbackToken = { ttlMs: values.CALLBACK_TOKEN_TTL_MS, terminalGraceMs: values.CALLBACK_TOKEN_TERMINAL_GRACE_MS };
    this.reconciliation = { intervalMs: values.RECONCILE_INTERVAL_MS, staleAfterMs: values.RECONCILE_STALE_AFTER_MS };
    this.taskContextMaxBytes = values.TASK_CONTEXT_MAX_BYTES;
    this.artifactMaxBytes = values.ARTIFACT_MAX_BYTES;
    this.logLevel = values.LOG_LEVEL;
    this.shutdownGraceMs = values.SHUTDOWN_GRACE_MS;
    this.databaseStatementTimeoutMs = values.DATABASE_STATEMENT_TIMEOUT_MS;
    this.httpRequestTimeoutMs = values.HTTP_REQUEST_TIMEOUT_MS;
    this.sessionCountMaxAgeMs = values.METRICS_SESSION_COUNT_MAX_AGE_MS;
    this.budgets = {
      cancelGraceMs: values.BUDGET_CANCEL_GRACE_MS,
      checkIntervalMs: values.BUDGET_CHECK_INTERVAL_MS,
      dailyCostLimitUsd: values.MOSAIC_DAILY_COST_LIMIT_USD,
      sessionSpendCeilingUsd: values.SESSION_SPEND_CEILING_USD,
    };
    this.streams = { heartbeatMs: values.STREAM_HEARTBEAT_MS, maxBufferedBytes: values.STREAM_MAX_BUFFERED_BYTES };
    this.streamLimits = {
      perKey: values.STREAM_MAX_PER_KEY,
      perAddress: values.STREAM_MAX_PER_ADDRESS,
      total: values.STREAM_MAX_TOTAL,
      maxLifeMs: values.STREAM_MAX_LIFE_MS,
    };
    this.developmentDefaults = [
      ...(values.ORCHESTRATOR_API_KEY === undefined ? ['ORCHESTRATOR_API_KEY'] : []),
      ...(values.MOSAIC_API_TOKEN === undefined ? ['MOSAIC_API_TOKEN'] : []),
      ...(values.CALLBACK_SIGNING_KEY === undefined ? ['CALLBACK_SIGNING_KEY'] : []),
    ];
  }

  /** Builds the configuration from an environment, or throws naming every bad variable. */
  static fromEnvironment(environment: Environment): ApiConfig {
    const values = readEnvironment(environmentSchema, environment, { secrets: SECRETS, secretFiles: ['ORCHESTRATOR_API_KEY'] });
    refuseDevelopmentSecrets(environment, [
      { name: 'MOSAIC_API_TOKEN', value: values.MOSAIC_API_TOKEN, developmentValue: DEVELOPMENT_MOSAIC_API_TOKEN },
      { name: 'ORCHESTRATOR_API_KEY', value: values.ORCHESTRATOR_API_KEY, developmentValue: DEVELOPMENT_ORCHESTRATOR_API_KEY },
      { name: 'CALLBACK_SIGNING_KEY', value: values.CALLBACK_SIGNING_KEY, developmentValue: DEVELOPMENT_CALLBACK_SIGNING_KEY },
    ]);
    return new ApiConfig(values);
  }

  /** The database settings alone, for `pnpm db:migrate`, or throws naming every bad one. */
  static databaseFromEnvironment(environment: Environment): DatabaseSettings {
    const values = readEnvironment(databaseSchema, environment, { secrets: ['DATABASE_URL'] });
    return { databaseUrl: values.DATABASE_URL, embeddedDatabase: embeddedDatabaseOf(values) };
  }

  /** The same configuration with the database URL filled in (the embedded database's, at start-up). */
  withDatabaseUrl(databaseUrl: string): ApiConfig {
    return Object.assign(Object.create(ApiConfig.prototype) as ApiConfig, this, { databaseUrl });
  }

  /** The same configuration logging at `logLevel` (tests silence it). */
  withLogLevel(logLevel: LogLevel): ApiConfig {
    return Object.assign(Object.create(ApiConfig.prototype) as ApiConfig, this, { logLevel });
  }

  /** The callback URL the orchestrator posts to for one API session. */
  callbackUrl(sessionId: string): string {
    return `${this.publicBaseUrl}${callbackPath(sessionId)}`;
  }
}

function embeddedDatabaseOf(values: z.output<typeof databaseSchema>): DatabaseSettings['embeddedDatabase'] {
  return {
    port: values.EMBEDDED_DATABASE_PORT,
    dataDir: values.EMBEDDED_DATABASE_DIR === undefined ? undefined : path.resolve(values.EMBEDDED_DATABASE_DIR),
  };
}
