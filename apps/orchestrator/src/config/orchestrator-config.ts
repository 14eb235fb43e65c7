import { readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ARTIFACT_DEFAULT_MAX_BYTES, DEVELOPMENT_ORCHESTRATOR_API_KEY, LIMITS, type AgentKind } from '@mosaic/orchestrator-contract';
import { LOG_LEVELS, type LogLevel } from '@mosaic/observability';
import {
  ConfigurationError,
  envBearerSecret,
  envInteger,
  envText,
  envUrl,
  readEnvironment,
  refuseDevelopmentSecrets,
  type Environment,
} from '@mosaic/http-kit';
import { defaultEmbeddedDataDir } from '@mosaic/embedded-postgres';
import { lookUpAgentUser, type AgentUser } from './agent-user';
import { AGENT_CREDENTIAL_VARIABLES } from './agent-credentials';
import { loadPriceTable, type PriceTable } from './agent-prices';
import { shellQuote } from './shell-quote';
import { CallbackOrigins, parseOrigin } from './callback-origins';

/** The size of the files a supervisor writes its spool in (SEGMENT_BYTES in supervisor/mosaic-supervisor.c). */
export const SPOOL_SEGMENT_BYTES = 1024 * 1024;

/** Variables copied from the orchestrator's environment into every agent's; secrets such as the API key never reach an agent. */
const AGENT_ENV_ALLOWLIST = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHELL'] as const;

/** Development values of the orchestrator's own keys, used (with a warning at start-up) when unset; refused in production. */
export const DEVELOPMENT_STORE_SECRETS_KEY = 'dev-store-secrets-key-change-me';
export const DEVELOPMENT_CLUSTER_KEY = 'dev-cluster-key-change-me';

/** Variables whose values an error message must not show besides the keys: every URL, since any may carry a password. */
const SECRETS = ['QUEUE_URL', 'ORCHESTRATOR_DATABASE_URL', 'NODE_URL'];
/** Keys, never shown either, that may be read from `<NAME>_FILE` instead. */
const SECRET_FILES = [
  'ORCHESTRATOR_API_KEY',
  'STORE_SECRETS_KEY',
  'STORE_SECRETS_PREVIOUS_KEY',
  'CLUSTER_KEY',
  ...AGENT_CREDENTIAL_VARIABLES,
];

/** The longest delay Node's timers take; a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Comma-separated origins; blanks around the commas are ignored. */
const originList = envText().transform((value, context) => {
  const origins: string[] = [];
  for (const entry of value.split(',').map((part) => part.trim())) {
    const origin = parseOrigin(entry);
    if (origin === undefined)
      context.addIssue({
        code: 'custom',
        message: `${JSON.stringify(entry)} is not an origin (http or https, a host, a port if not the default)`,
      });
    else origins.push(origin);
  }
  return origins;
});

const environmentSchema = z.object({
  PORT: envInteger('a port number', 0, 65_535).default(3100),
  HOST: envText().default('127.0.0.1'),
  ORCHESTRATOR_API_KEY: envBearerSecret().optional(),
  STORE_SECRETS_KEY: envText().optional(),
  STORE_SECRETS_PREVIOUS_KEY: envText().optional(),
  CLUSTER_KEY: envText().optional(),
  AGENT_COMMAND: envText().optional(),
  CLAUDE_CODE_PATH: envText().default('claude'),
  CODEX_PATH: envText().default('codex'),
  GEMINI_PATH: envText().default('gemini'),
  AGENT_STALL_TIMEOUT_MS: envInteger('a number of milliseconds', 1, MAX_TIMER_MS).default(600_000),
  AGENT_PRICES_FILE: envText().optional(),
  WORKSPACE_ROOT: envText().optional(),
  WORKSPACE_MAX_BYTES: envInteger('a number of bytes', 1).default(2 * 1024 * 1024 * 1024),
  ARTIFACT_MAX_BYTES: envInteger('a number of bytes', 1, 64 * 1024 * 1024).default(ARTIFACT_DEFAULT_MAX_BYTES),
  // Comma-separated prefixes; blanks around the commas are ignored.
  ALLOWED_REPOSITORY_URLS: envText()
    .transform((value) =>
      value
        .split(',')
        .map((prefix) => prefix.trim())
        .filter((prefix) => prefix !== ''),
    )
    .optional(),
  ...Object.fromEntries(AGENT_CREDENTIAL_VARIABLES.map((name) => [name, envText().optional()])),
  SESSION_TIMEOUT_MS: envInteger('a number of milliseconds', 1, MAX_TIMER_MS).default(30 * 60 * 1000),
  SESSION_RETENTION_MS: envInteger('a number of milliseconds', 1, MAX_TIMER_MS).default(24 * 60 * 60 * 1000),
  MAX_CONCURRENT_SESSIONS: envInteger('a number of sessions', 1).default(64),
  CALLBACK_RETRY_MAX_MS: envInteger('a number of milliseconds', 0, MAX_TIMER_MS).default(5 * 60 * 1000),
  CALLBACK_TIMEOUT_MS: envInteger('a number of milliseconds', 1, MAX_TIMER_MS).default(10_000),
  LOG_LINES_PER_SECOND: envInteger('a number of lines per second', 0).default(20),
  SHUTDOWN_GRACE_MS: envInteger('a number of milliseconds', 0, MAX_TIMER_MS).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: envInteger('a number of milliseconds', 1, MAX_TIMER_MS).default(30_000),
  CANCEL_GRACE_MS: envInteger('a number of milliseconds', 0, LIMITS.cancelGraceMaxMs).default(10_000),
  SESSION_WORKDIR_ROOT: envText().optional(),
  SESSION_SPOOL_ROOT: envText().optional(),
  // Two spool segments at least: the one being written and one the orchestrator is reading.
  SESSION_SPOOL_MAX_BYTES: envInteger('a number of bytes', 2 * SPOOL_SEGMENT_BYTES).default(16 * 1024 * 1024),
  ALLOWED_CALLBACK_ORIGINS: originList.optional(),
  // A name, or a uid; never an option getent would read.
  AGENT_USER: envText()
    .pipe(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, 'expected a user name'))
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  NODE_ID: envText()
    .pipe(
      z
        .string()
        .max(200)
        .regex(/^[A-Za-z0-9_.:-]+$/, 'expected letters, digits and _ . : -'),
    )
    .optional(),
  NODE_URL: envUrl(['http', 'https']).optional(),
  MAX_QUEUED_SESSIONS: envInteger('a number of sessions', 0).default(10_000),
  NODE_LOST_AFTER_MS: envInteger('a number of milliseconds', 1_000, MAX_TIMER_MS).default(30_000),
  QUEUE_URL: envUrl(['redis', 'rediss']).optional(),
  ORCHESTRATOR_DATABASE_URL: envUrl(['postgres', 'postgresql']).optional(),
  ORCHESTRATOR_EMBEDDED_DATABASE_PORT: envInteger('a port number', 1, 65_535).default(5434),
  ORCHESTRATOR_EMBEDDED_DATABASE_DIR: envText().optional(),
  // Names the queue's keys and schemas: several clusters can share one Redis or PostgreSQL.
  QUEUE_PREFIX: envText()
    .pipe(
      z
        .string()
        .max(40)
        .regex(/^[a-z][a-z0-9_]*$/, 'expected lower-case letters, digits and _, starting with a letter'),
    )
    .default('mosaic'),
});

/** Where the cluster keeps its queue and sessions (QUEUE_URL, ORCHESTRATOR_DATABASE_URL, or an embedded PostgreSQL). */
export type QueueStoreConfig =
  | { readonly kind: 'redis'; readonly url: string; readonly prefix: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly prefix: string }
  | { readonly kind: 'embedded-postgres'; readonly dataDir: string; readonly port: number; readonly prefix: string };

/** Everything the orchestrator reads from its environment, validated once at start-up and injected by type. */
export class OrchestratorConfig {
  readonly port: number;
  readonly host: string;
  readonly apiKey: string;
  readonly usesDevelopmentApiKey: boolean;
  /** Seals the callback tokens and signing secrets kept in the queue store (see StoreSecrets). */
  readonly storeSecretsKey: string;
  /** The key before the last rotation: what it sealed still opens. */
  readonly storeSecretsPreviousKey: string | undefined;
  /** Signs node records and the requests one node passes to another; never kept in the store. */
  readonly clusterKey: string;
  /** The orchestrator's own keys left unset, running on their development values. */
  readonly developmentDefaults: readonly string[];
  /** A shell command line; it runs in the session's working directory, in its own process group. */
  readonly agentCommand: string;
  readonly agentEnv: Readonly<Record<string, string>>;
  /** (v3) The program of each agent kind but `command`: a path, or a name looked up on the agents' PATH. */
  readonly agentPrograms: Readonly<Record<Exclude<AgentKind, 'command'>, string>>;
  /** (v3) The model credentials that are set (AGENT_CREDENTIAL_VARIABLES); only an adapter that names one gets it. */
  readonly agentCredentials: Readonly<Record<string, string>>;
  /** (v3) An agent silent for this long is cancelled (`agent_stalled`). */
  readonly agentStallTimeoutMs: number;
  /** (v3) USD per million tokens per model, for agents that report no cost: the bundled table under AGENT_PRICES_FILE's. */
  readonly agentPrices: PriceTable;
  /** (v3) This node's local copies of the repositories its sessions work on (WORKSPACE_ROOT). */
  readonly repositoryCacheDir: string;
  /** (v3) The disk one session's workspace may take: past it the session is cancelled (`workspace_full`). */
  readonly workspaceMaxBytes: number;
  /** (v3) The most of one artifact a callback carries; a bigger one is sent cut, `truncated`. */
  readonly artifactMaxBytes: number;
  /** (v3) URL prefixes a task's repository must start with; undefined: any file://, https:// or ssh:// URL. */
  readonly allowedRepositoryUrls: readonly string[] | undefined;
  /** Unset: agents run as the orchestrator's own user. */
  readonly agentUser: AgentUser | undefined;
  readonly sessionTimeoutMs: number;
  /** How long an ended session, and the Idempotency-Key that started it, stay known before they are forgotten. */
  readonly sessionRetentionMs: number;
  readonly maxConcurrentSessions: number;
  readonly callbackRetryMaxMs: number;
  readonly callbackTimeoutMs: number;
  readonly logLinesPerSecond: number;
  readonly shutdownGraceMs: number;
  /** How long a request may take to arrive whole, and a kept-alive connection stay idle. */
  readonly httpRequestTimeoutMs: number;
  /** The grace of a cancel whose request names none. */
  readonly cancelGraceMs: number;
  readonly sessionWorkdirRoot: string;
  /**
   * This node's spools: one directory per session its agents' supervisors write
   * (SESSION_SPOOL_ROOT/<node id>). Per node, so that nodes sharing a machine
   * never adopt each other's agents.
   */
  readonly sessionSpoolDir: string;
  /** The disk one session's spool may take (SESSION_SPOOL_MAX_BYTES): past it, lines are dropped and counted. */
  readonly sessionSpoolMaxBytes: number;
  readonly callbackOrigins: CallbackOrigins;
  readonly version: string;
  readonly logLevel: LogLevel;
  /** This node's name in the cluster: a restarted node with the same id is the same node. */
  readonly nodeId: string;
  /** Where the other nodes reach this one to pass on a kill or a cancel. */
  readonly nodeUrl: string;
  readonly maxQueuedSessions: number;
  readonly nodeLostAfterMs: number;
  readonly queueStore: QueueStoreConfig;

  private constructor(
    values: z.output<typeof environmentSchema>,
    environment: Environment,
    agentUser: AgentUser | undefined,
    agentPrices: PriceTable,
  ) {
    this.port = values.PORT;
    this.host = values.HOST;
    this.apiKey = values.ORCHESTRATOR_API_KEY ?? DEVELOPMENT_ORCHESTRATOR_API_KEY;
    this.usesDevelopmentApiKey = values.ORCHESTRATOR_API_KEY === undefined;
    this.storeSecretsKey = values.STORE_SECRETS_KEY ?? DEVELOPMENT_STORE_SECRETS_KEY;
    this.storeSecretsPreviousKey = values.STORE_SECRETS_PREVIOUS_KEY;
    this.clusterKey = values.CLUSTER_KEY ?? DEVELOPMENT_CLUSTER_KEY;
    this.developmentDefaults = (['STORE_SECRETS_KEY', 'CLUSTER_KEY'] as const).filter((name) => values[name] === undefined);
    this.agentCommand = values.AGENT_COMMAND ?? defaultAgentCommand();
    this.agentUser = agentUser;
    this.agentEnv = agentEnvironment(environment, agentUser);
    this.agentPrograms = { 'claude-code': values.CLAUDE_CODE_PATH, codex: values.CODEX_PATH, gemini: values.GEMINI_PATH };
    this.agentCredentials = Object.fromEntries(
      AGENT_CREDENTIAL_VARIABLES.flatMap((name) => {
        const value = (values as Record<string, unknown>)[name];
        return typeof value === 'string' ? [[name, value]] : [];
      }),
    );
    this.agentStallTimeoutMs = values.AGENT_STALL_TIMEOUT_MS;
    this.agentPrices = agentPrices;
    this.workspaceMaxBytes = values.WORKSPACE_MAX_BYTES;
    this.artifactMaxBytes = values.ARTIFACT_MAX_BYTES;
    this.allowedRepositoryUrls = values.ALLOWED_REPOSITORY_URLS;
    this.sessionTimeoutMs = values.SESSION_TIMEOUT_MS;
    this.sessionRetentionMs = values.SESSION_RETENTION_MS;
    this.maxConcurrentSessions = values.MAX_CONCURRENT_SESSIONS;
    this.callbackRetryMaxMs = values.CALLBACK_RETRY_MAX_MS;
    this.callbackTimeoutMs = values.CALLBACK_TIMEOUT_MS;
    this.logLinesPerSecond = values.LOG_LINES_PER_SECOND;
    this.shutdownGraceMs = values.SHUTDOWN_GRACE_MS;
    this.httpRequestTimeoutMs = values.HTTP_REQUEST_TIMEOUT_MS;
    this.cancelGraceMs = values.CANCEL_GRACE_MS;
    // Named after the user, so that orchestrators of different users on one machine do not refuse each other's.
    this.sessionWorkdirRoot = resolve(values.SESSION_WORKDIR_ROOT ?? join(tmpdir(), `mosaic-orchestrator-${process.getuid?.() ?? 'user'}`));
    this.nodeId = values.NODE_ID ?? `${hostname()}:${values.PORT}`;
    const spoolRoot = resolve(values.SESSION_SPOOL_ROOT ?? join(tmpdir(), `mosaic-orchestrator-spool-${process.getuid?.() ?? 'user'}`));
    this.sessionSpoolDir = join(spoolRoot, this.nodeId);
    this.sessionSpoolMaxBytes = values.SESSION_SPOOL_MAX_BYTES;
    // Beside the sessions' directories, which hold sessions only; per node, so that nodes sharing a machine never fetch
    // into each other's copies.
    this.repositoryCacheDir = resolve(values.WORKSPACE_ROOT ?? `${this.sessionWorkdirRoot}-repositories`, this.nodeId);
    this.callbackOrigins =
      values.ALLOWED_CALLBACK_ORIGINS === undefined ? CallbackOrigins.loopback() : CallbackOrigins.only(values.ALLOWED_CALLBACK_ORIGINS);
    this.version = packageVersion();
    this.logLevel = values.LOG_LEVEL;
    this.nodeUrl = (values.NODE_URL ?? `http://${urlHost(values.HOST)}:${values.PORT}`).replace(/\/+$/, '');
    this.maxQueuedSessions = values.MAX_QUEUED_SESSIONS;
    this.nodeLostAfterMs = values.NODE_LOST_AFTER_MS;
    this.queueStore = queueStore(values);
  }

  /** Builds the configuration from an environment, or throws a ConfigurationError naming every bad variable. */
  static fromEnvironment(environment: Environment): OrchestratorConfig {
    const values = readEnvironment(environmentSchema, environment, { secrets: SECRETS, secretFiles: SECRET_FILES });
    refuseDevelopmentSecrets(environment, [
      { name: 'ORCHESTRATOR_API_KEY', value: values.ORCHESTRATOR_API_KEY, developmentValue: DEVELOPMENT_ORCHESTRATOR_API_KEY },
      { name: 'STORE_SECRETS_KEY', value: values.STORE_SECRETS_KEY, developmentValue: DEVELOPMENT_STORE_SECRETS_KEY },
      { name: 'CLUSTER_KEY', value: values.CLUSTER_KEY, developmentValue: DEVELOPMENT_CLUSTER_KEY },
    ]);
    // Agents of the orchestrator's own user could write to its files and signal its processes: production keeps them apart.
    if (environment.NODE_ENV === 'production' && values.AGENT_USER === undefined)
      throw new ConfigurationError(
        "Invalid configuration: AGENT_USER is not set; with NODE_ENV=production agents must not run as the orchestrator's own user: set AGENT_USER to a user of their own",
      );
    const agentUser = values.AGENT_USER === undefined ? undefined : lookUpAgentUser(values.AGENT_USER);
    let agentPrices: PriceTable;
    try {
      agentPrices = loadPriceTable(values.AGENT_PRICES_FILE);
    } catch (error) {
      throw new ConfigurationError(`Invalid configuration: ${(error as Error).message}`);
    }
    return new OrchestratorConfig(values, environment, agentUser, agentPrices);
  }
}

/** The bundled sample agent, run by the same Node binary as the service so that no PATH lookup is involved. */
function defaultAgentCommand(): string {
  return [process.execPath, join(__dirname, '..', 'sample-agent', 'sample-agent.js')].map(shellQuote).join(' ');
}

function agentEnvironment(environment: Environment, agentUser: AgentUser | undefined): Record<string, string> {
  const selected: Record<string, string> = {};
  for (const name of AGENT_ENV_ALLOWLIST) {
    const value = environment[name];
    if (value !== undefined) selected[name] = value;
  }
  // The agent user's own account, not the orchestrator's.
  return agentUser === undefined ? selected : { ...selected, HOME: agentUser.home, USER: agentUser.name, SHELL: agentUser.shell };
}

function queueStore(values: z.output<typeof environmentSchema>): QueueStoreConfig {
  const prefix = values.QUEUE_PREFIX;
  if (values.QUEUE_URL !== undefined) return { kind: 'redis', url: values.QUEUE_URL, prefix };
  if (values.ORCHESTRATOR_DATABASE_URL !== undefined) return { kind: 'postgres', url: values.ORCHESTRATOR_DATABASE_URL, prefix };
  const dataDir = resolve(values.ORCHESTRATOR_EMBEDDED_DATABASE_DIR ?? defaultEmbeddedDataDir('orchestrator-postgres'));
  return { kind: 'embedded-postgres', dataDir, port: values.ORCHESTRATOR_EMBEDDED_DATABASE_PORT, prefix };
}

/** A host as a URL names it: an IPv6 address in brackets; the unspecified address as loopback, which is where this machine's other nodes reach it. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function packageVersion(): string {
  const manifest: unknown = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const version = z.object({ version: z.string() }).safeParse(manifest);
  return version.success ? version.data.version : '0.0.0';
}
