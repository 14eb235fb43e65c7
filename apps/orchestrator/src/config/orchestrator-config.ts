import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { DEVELOPMENT_ORCHESTRATOR_API_KEY } from '@mosaic/orchestrator-contract';
import { LOG_LEVELS, type LogLevel } from '@mosaic/observability';

/** The development key every fresh checkout shares; start-up warns when it is in use. */

/** Variables copied from the orchestrator's environment into every agent's; secrets such as the API key never reach an agent. */
const AGENT_ENV_ALLOWLIST = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHELL'] as const;

const MAX_TIMER_MS = 2_147_483_647;

function integer(description: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .regex(/^\d+$/, `expected ${description}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

const nonEmpty = z.string().refine((value) => value.trim() !== '', 'must not be empty');

const environmentSchema = z.object({
  PORT: integer('a port number', 0, 65_535).default(3100),
  HOST: nonEmpty.default('127.0.0.1'),
  ORCHESTRATOR_API_KEY: nonEmpty.optional(),
  AGENT_COMMAND: nonEmpty.optional(),
  SESSION_TIMEOUT_MS: integer('a number of milliseconds', 1, MAX_TIMER_MS).default(30 * 60 * 1000),
  SESSION_RETENTION_MS: integer('a number of milliseconds', 1, MAX_TIMER_MS).default(24 * 60 * 60 * 1000),
  MAX_CONCURRENT_SESSIONS: integer('a number of sessions', 1).default(64),
  CALLBACK_RETRY_MAX_MS: integer('a number of milliseconds', 0, MAX_TIMER_MS).default(5 * 60 * 1000),
  CALLBACK_TIMEOUT_MS: integer('a number of milliseconds', 1, MAX_TIMER_MS).default(10_000),
  LOG_LINES_PER_SECOND: integer('a number of lines per second', 0).default(20),
  SHUTDOWN_GRACE_MS: integer('a number of milliseconds', 0, MAX_TIMER_MS).default(10_000),
  SESSION_WORKDIR_ROOT: nonEmpty.optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

export class ConfigError extends Error {}

/** Everything the orchestrator reads from its environment, parsed once at start-up and injected by type. */
export class OrchestratorConfig {
  readonly port!: number;
  readonly host!: string;
  readonly apiKey!: string;
  readonly usesDevelopmentApiKey!: boolean;
  /** A shell command line; it runs in the session's working directory, in its own process group. */
  readonly agentCommand!: string;
  readonly agentEnv!: Readonly<Record<string, string>>;
  readonly sessionTimeoutMs!: number;
  /** How long an ended session, and the Idempotency-Key that started it, stay known before they are forgotten. */
  readonly sessionRetentionMs!: number;
  readonly maxConcurrentSessions!: number;
  readonly callbackRetryMaxMs!: number;
  readonly callbackTimeoutMs!: number;
  readonly logLinesPerSecond!: number;
  readonly shutdownGraceMs!: number;
  readonly sessionWorkdirRoot!: string;
  readonly version!: string;
  readonly logLevel!: LogLevel;

  constructor(values: OrchestratorConfig) {
    Object.assign(this, values);
  }
}

export function loadOrchestratorConfig(env: NodeJS.ProcessEnv = process.env): OrchestratorConfig {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `${name}=${JSON.stringify(env[name])}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const values = parsed.data;
  return new OrchestratorConfig({
    port: values.PORT,
    host: values.HOST,
    apiKey: values.ORCHESTRATOR_API_KEY ?? DEVELOPMENT_ORCHESTRATOR_API_KEY,
    usesDevelopmentApiKey: values.ORCHESTRATOR_API_KEY === undefined,
    agentCommand: values.AGENT_COMMAND ?? defaultAgentCommand(),
    agentEnv: agentEnvironment(env),
    sessionTimeoutMs: values.SESSION_TIMEOUT_MS,
    sessionRetentionMs: values.SESSION_RETENTION_MS,
    maxConcurrentSessions: values.MAX_CONCURRENT_SESSIONS,
    callbackRetryMaxMs: values.CALLBACK_RETRY_MAX_MS,
    callbackTimeoutMs: values.CALLBACK_TIMEOUT_MS,
    logLinesPerSecond: values.LOG_LINES_PER_SECOND,
    shutdownGraceMs: values.SHUTDOWN_GRACE_MS,
    sessionWorkdirRoot: resolve(values.SESSION_WORKDIR_ROOT ?? join(tmpdir(), 'mosaic-orchestrator')),
    version: packageVersion(),
    logLevel: values.LOG_LEVEL,
  });
}

/** The bundled sample agent, run by the same Node binary as the service so that no PATH lookup is involved. */
function defaultAgentCommand(): string {
  return [process.execPath, join(__dirname, '..', 'agent', 'sample-agent.js')].map(shellQuote).join(' ');
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function agentEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const selected: Record<string, string> = {};
  for (const name of AGENT_ENV_ALLOWLIST) {
    const value = env[name];
    if (value !== undefined) selected[name] = value;
  }
  return selected;
}

function packageVersion(): string {
  const manifest: unknown = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const version = z.object({ version: z.string() }).safeParse(manifest);
  return version.success ? version.data.version : '0.0.0';
}
