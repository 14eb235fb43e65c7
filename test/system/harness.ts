import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createTestDatabase, dropTestDatabase, withClient } from '../support/database';
import { eventually } from '../support/eventually';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { request, type HttpAnswer } from '../support/http';
import { liveDescendants, liveProcesses, waitForNoProcesses, type ProcessInfo } from '../support/process-table';
import { deleteRedisKeys } from '../support/redis';
import { freePort, startService, uniqueQueuePrefix, type ServiceProcess } from '../support/service-process';
import type { Figures } from './report';

export const REPO_ROOT = resolve(__dirname, '..', '..');
const ORCHESTRATOR_ENTRY = join(REPO_ROOT, 'apps/orchestrator/dist/main.js');
const API_ENTRY = join(REPO_ROOT, 'apps/api/dist/main.js');
export const SAMPLE_AGENT = join(REPO_ROOT, 'apps/orchestrator/dist/sample-agent/sample-agent.js');
export const ORCHESTRATOR_KEY = 'system-orchestrator-key-5b0e9c2f7a41';
export const OPERATOR_TOKEN = 'system-operator-token-93d1c6e8f024';
/** The server key each session's callback signing secret is derived from. */
export const CALLBACK_SIGNING_KEY = 'system-callback-signing-key-4e7a0d2b91c8';

/**
 * Short intervals and timeouts, so that every fault resolves in seconds; the
 * values each scenario relies on are restated where it relies on them.
 */
export const API_ENV: Record<string, string> = {
  ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
  MOSAIC_API_TOKEN: OPERATOR_TOKEN,
  CALLBACK_SIGNING_KEY,
  ORCHESTRATOR_SPAWN_TIMEOUT_MS: '10000',
  ORCHESTRATOR_STATUS_TIMEOUT_MS: '1000',
  ORCHESTRATOR_KILL_TIMEOUT_MS: '10000',
  ORCHESTRATOR_LIST_TIMEOUT_MS: '2000',
  ORCHESTRATOR_HEALTH_TIMEOUT_MS: '500',
  ORCHESTRATOR_RETRY_ATTEMPTS: '2',
  ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: '50',
  ORCHESTRATOR_RETRY_MAX_DELAY_MS: '200',
  ORCHESTRATOR_BREAKER_HALF_OPEN_AFTER_MS: '200',
  RECONCILE_INTERVAL_MS: '250',
  RECONCILE_STALE_AFTER_MS: '15000',
};

export const ORCHESTRATOR_ENV: Record<string, string> = {
  ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
  SESSION_TIMEOUT_MS: '120000',
  SHUTDOWN_GRACE_MS: '2000',
  CALLBACK_RETRY_MAX_MS: '60000',
  MAX_CONCURRENT_SESSIONS: '256',
};

export interface SessionRow {
  id: string;
  task_id: string;
  orchestrator_session_id: string | null;
  status: string;
  error: string | null;
  last_sequence: number;
}

export interface ApiInstance {
  service: ServiceProcess;
  /** Between the orchestrator and this API: every callback passes through it and is recorded. */
  callbacks: FaultProxy;
  port: number;
  databaseUrl: string;
  restart(): Promise<void>;
}

export interface OrchestratorInstance {
  service: ServiceProcess;
  port: number;
  /** NODE_ID: the same across `restart()`, so the restarted process is this node again, of the same cluster. */
  nodeId: string;
  /** QUEUE_PREFIX of its cluster: the same across `restart()`. */
  queuePrefix: string;
  /** One line per agent the orchestrator started: the agent's task file, which names its session. */
  starts(): string[];
  restart(): Promise<void>;
}

export interface EventAccount {
  /** Distinct events the orchestrator tried to deliver (by `event_id`). */
  sent: number;
  /** Delivery attempts, redeliveries included. */
  deliveries: number;
  stored: number;
  lost: number;
  duplicated: number;
}

export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Everything one scenario starts (databases, services, proxies, temp dirs),
 * torn down by `cleanup` in reverse order whatever happened. Agents are
 * sampled from the orchestrator's process tree while it runs, so that the
 * scenario can prove none of them is left.
 */
export class SystemHarness {
  private readonly cleanups: (() => Promise<unknown>)[] = [];
  private sampler: NodeJS.Timeout | undefined;
  /** Running services whose agents are sampled. */
  private readonly sampled = new Set<ServiceProcess>();
  readonly agentPids = new Set<number>();
  readonly agentGroups = new Set<number>();
  /** Every service process started, restarts included, in order: their output is shown when a scenario fails. */
  readonly services: ServiceProcess[] = [];

  async tempDir(): Promise<string> {
    const dir = join(REPO_ROOT, '.data', `system-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    this.cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  async database(): Promise<string> {
    const url = await createTestDatabase('sys', { migrate: true });
    this.cleanups.push(() => dropTestDatabase(url));
    return url;
  }

  /**
   * Runs `cleanup` at teardown, once every service has stopped, before anything registered earlier (a temp dir)
   * is removed: for what a scenario starts itself, such as a store server its services use.
   */
  onCleanup(cleanup: () => Promise<unknown>): void {
    this.cleanups.push(cleanup);
  }

  async proxy(upstreamPort: number): Promise<FaultProxy> {
    const proxy = await startFaultProxy(upstreamPort);
    this.cleanups.push(() => proxy.close());
    return proxy;
  }

  /**
   * An orchestrator node whose agents are the sample agent (or `agentCommand`), each start recorded in a file.
   * It keeps its port, NODE_ID and QUEUE_PREFIX across `restart()`: a node restarted as a process of another
   * cluster would not see its own sessions. Its queue store is the run's PostgreSQL (ORCHESTRATOR_DATABASE_URL,
   * exported by the global setup) unless `env` gives a QUEUE_URL.
   */
  async orchestrator(options: { env?: Record<string, string | undefined>; agentCommand?: string } = {}): Promise<OrchestratorInstance> {
    const [node] = await this.cluster({ nodes: 1, ...options });
    return node;
  }

  /**
   * `nodes` orchestrator nodes of one cluster (one QUEUE_PREFIX, NODE_IDs `node-0`…), each with
   * MAX_CONCURRENT_SESSIONS `capacity` when given; agent starts of every node go to one file.
   * `startTimeoutMs`: how long a (re)start may take to answer /health, for nodes started while the machine is busy.
   */
  async cluster(options: {
    nodes: number;
    capacity?: number;
    env?: Record<string, string | undefined>;
    agentCommand?: string;
    startTimeoutMs?: number;
  }): Promise<OrchestratorInstance[]> {
    const dir = await this.tempDir();
    const startsFile = join(dir, 'agent-starts.log');
    const record = `printf '%s\\n' "$MOSAIC_TASK_FILE" >> ${shellQuote(startsFile)}`;
    const agent = options.agentCommand ?? `exec ${shellQuote(process.execPath)} ${shellQuote(SAMPLE_AGENT)}`;
    const queuePrefix = uniqueQueuePrefix();
    const redis = options.env?.QUEUE_URL;
    if (redis !== undefined) this.cleanups.push(() => deleteRedisKeys(redis, queuePrefix));
    const starts = () =>
      existsSync(startsFile)
        ? readFileSync(startsFile, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
        : [];
    const nodes: OrchestratorInstance[] = [];
    for (let index = 0; index < options.nodes; index++) {
      const port = await freePort();
      const nodeId = options.nodes === 1 ? `system-${port}` : `node-${index}`;
      const start = () =>
        this.track(
          startService({
            name: nodeId,
            entry: ORCHESTRATOR_ENTRY,
            port,
            startTimeoutMs: options.startTimeoutMs,
            env: {
              ...ORCHESTRATOR_ENV,
              ...(options.capacity !== undefined && { MAX_CONCURRENT_SESSIONS: String(options.capacity) }),
              SESSION_WORKDIR_ROOT: join(dir, `sessions-${index}`),
              SESSION_SPOOL_ROOT: join(dir, 'spools'),
              AGENT_COMMAND: `${record}; ${agent}`,
              ...options.env,
              NODE_ID: nodeId,
              QUEUE_PREFIX: queuePrefix,
            },
          }),
          true,
        );
      const instance: OrchestratorInstance = {
        service: await start(),
        port,
        nodeId,
        queuePrefix,
        starts,
        restart: async () => {
          instance.service = await start();
        },
      };
      nodes.push(instance);
    }
    return nodes;
  }

  /** An API process on `databaseUrl`, with a recording proxy in front of its callback endpoint. */
  async api(options: { databaseUrl: string; orchestratorUrl: string; env?: Record<string, string> }): Promise<ApiInstance> {
    const port = await freePort();
    const callbacks = await this.proxy(port);
    const start = () =>
      this.track(
        startService({
          name: 'api',
          entry: API_ENTRY,
          port,
          healthPath: '/health/orchestrator',
          readyStatuses: [200, 503],
          env: {
            ...API_ENV,
            DATABASE_URL: options.databaseUrl,
            ORCHESTRATOR_URL: options.orchestratorUrl,
            PUBLIC_BASE_URL: callbacks.url,
            ...options.env,
          },
        }),
        false,
      );
    const instance: ApiInstance = {
      service: await start(),
      callbacks,
      port,
      databaseUrl: options.databaseUrl,
      restart: async () => {
        instance.service = await start();
      },
    };
    return instance;
  }

  private async track(starting: Promise<ServiceProcess>, sampleAgents: boolean): Promise<ServiceProcess> {
    const service = await starting;
    this.services.push(service);
    if (sampleAgents) {
      this.sampled.add(service);
      // A stopped service is no longer sampled, whenever it stops.
      void service.exited.then(() => this.sampled.delete(service));
      this.sampleAgentsOf(service);
      // One read of the process table for every service: a read per service (let alone per agent), 20 times a second,
      // starves the test runner, and the proxies it runs.
      this.sampler ??= setInterval(() => {
        const table = liveProcesses();
        for (const sampled of this.sampled) this.recordAgents(sampled, table);
      }, 50);
    }
    return service;
  }

  /** Samples the agent tree once more now (a sample may be up to 50 ms old). */
  sampleAgentsOf(service: ServiceProcess): number[] {
    return this.recordAgents(service, liveProcesses());
  }

  private recordAgents(service: ServiceProcess, table: readonly ProcessInfo[]): number[] {
    const pids = liveDescendants(service.pid, table);
    // A child caught between fork and setsid is still in the service's group, which is the test runner's own: never kill that group.
    const serviceGroup = table.find((info) => info.pid === service.pid)?.pgid ?? process.pid;
    const runnerGroup = table.find((info) => info.pid === process.pid)?.pgid ?? process.pid;
    for (const info of pids) {
      this.agentPids.add(info.pid);
      if (info.pgid !== serviceGroup && info.pgid !== runnerGroup) this.agentGroups.add(info.pgid);
    }
    return pids.map((info) => info.pid);
  }

  /** Proves no agent process (or anything it started) is left, within `timeoutMs`. */
  async assertNoAgentsLeft(timeoutMs: number): Promise<void> {
    await waitForNoProcesses([...this.agentPids], timeoutMs);
    const groups = this.agentGroups;
    const stragglers = liveProcesses().filter((info) => groups.has(info.pgid));
    if (stragglers.length > 0) throw new Error(`agent process groups still have members: ${stragglers.map((info) => info.pid).join(', ')}`);
  }

  /** Kills the process groups of agents an orchestrator killed with SIGKILL left behind, as an operator would. */
  killAgentGroups(): void {
    for (const group of this.agentGroups) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    }
  }

  async cleanup(): Promise<void> {
    clearInterval(this.sampler);
    for (const service of [...this.services].reverse()) await service.stop(5_000);
    this.killAgentGroups();
    await waitForNoProcesses([...this.agentPids], 5_000).catch(() => undefined);
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        process.stderr.write(`system test cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}

/** An operator call; the client-side bound (60 s) proves the API answers rather than hangs. */
export function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token = OPERATOR_TOKEN,
): Promise<HttpAnswer<T>> {
  return request<T>(method, `${base}${path}`, { body, token });
}

export async function orchestratorCall<T = unknown>(
  orchestrator: OrchestratorInstance,
  method: string,
  path: string,
): Promise<HttpAnswer<T>> {
  return call<T>(orchestrator.service.url, method, path, undefined, ORCHESTRATOR_KEY);
}

/** A task with `metadata` (and further fields of POST /tasks, such as `priority`); its id. */
export async function createTask(
  api: ApiInstance,
  metadata: Record<string, unknown>,
  fields: Record<string, unknown> = {},
): Promise<string> {
  const created = await call<{ id: string }>(api.service.url, 'POST', '/tasks', { title: 'system task', ...fields, metadata });
  if (created.status !== 201) throw new Error(`POST /tasks answered ${created.status}: ${JSON.stringify(created.body)}`);
  return created.body.id;
}

export async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(url, async (client) => (await client.query(sql, params)).rows as T[]);
}

export async function sessionRows(url: string): Promise<SessionRow[]> {
  return query<SessionRow>(
    url,
    'SELECT id, task_id, orchestrator_session_id, status::text AS status, error, last_sequence FROM orchestrator_sessions ORDER BY created_at',
  );
}

const TERMINAL = new Set(['completed', 'failed', 'killed', 'cancelled']);
/** How often the scenarios' waits look: their checks read the database or the process table, on the cores the services under load need. */
const POLL_MS = 50;

/** Polls until every session in the database is terminal (and at least `count` exist). */
export function waitForAllTerminal(url: string, count: number, timeoutMs: number): Promise<SessionRow[]> {
  return eventually(
    async () => {
      const rows = await sessionRows(url);
      const open = rows.filter((row) => !TERMINAL.has(row.status));
      if (rows.length < count || open.length > 0)
        throw new Error(`${open.length} of ${rows.length} sessions (${count} expected) not terminal: ${JSON.stringify(open.slice(0, 5))}`);
      return rows;
    },
    timeoutMs,
    POLL_MS,
  );
}

/** `eventually` for a condition the scenario names: a timeout says which one did not come. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  await eventually(
    async () => {
      if (!(await check())) throw new Error(`${what}: not yet`);
    },
    timeoutMs,
    POLL_MS,
  );
}

interface SentEvent {
  event_id: string;
  session_id: string;
  sequence: number;
}

function callbackEvents(proxies: readonly FaultProxy[]): SentEvent[] {
  const events: SentEvent[] = [];
  for (const proxy of proxies) {
    for (const seen of proxy.requests) {
      if (seen.method !== 'POST' || !seen.path.startsWith('/orchestrator/callbacks/')) continue;
      events.push(JSON.parse(seen.body) as SentEvent);
    }
  }
  return events;
}

/**
 * Which stored events came from the orchestrator: the API also writes its own
 * audit events (who dispatched, who killed; `event_id` `api-…`), which are no
 * callbacks and carry no sequence of the orchestrator's.
 */
export const ORCHESTRATOR_EVENT = "e.event_id NOT LIKE 'api-%'";

/**
 * What the orchestrator sent (seen on the wire by the callback proxies)
 * against what the database holds: lost = sent but not stored; duplicated =
 * stored rows beyond one per (session, sequence).
 */
export async function accountEvents(url: string, proxies: readonly FaultProxy[]): Promise<EventAccount> {
  const deliveries = callbackEvents(proxies);
  const sent = new Set(deliveries.map((event) => event.event_id));
  const rows = await query<{ event_id: string; session_id: string; sequence: number }>(
    url,
    `SELECT event_id, session_id::text, sequence FROM orchestrator_session_events e WHERE ${ORCHESTRATOR_EVENT}`,
  );
  const stored = new Set(rows.map((row) => row.event_id));
  const perSequence = new Set(rows.map((row) => `${row.session_id}#${row.sequence}`));
  return {
    sent: sent.size,
    deliveries: deliveries.length,
    stored: rows.length,
    lost: [...sent].filter((id) => !stored.has(id)).length,
    duplicated: rows.length - perSequence.size,
  };
}

/**
 * `accountEvents` once deliveries have settled: redeliveries still in backoff are waited for, up to `timeoutMs`;
 * then the account as it stands, for the caller's assertions. Every 250 ms: each look parses every delivery and reads every event.
 */
export async function settledAccount(url: string, proxies: readonly FaultProxy[], timeoutMs = 30_000): Promise<EventAccount> {
  let account = await accountEvents(url, proxies);
  const settled = () => account.lost === 0 && account.stored === account.sent;
  await eventually(
    async () => {
      if (!settled()) account = await accountEvents(url, proxies);
      if (!settled()) throw new Error('deliveries not settled');
    },
    timeoutMs,
    250,
  ).catch(() => undefined);
  return account;
}

/** Every session's stored events run 1..last_sequence without a gap or a repeat. */
export async function gappedSessions(url: string): Promise<string[]> {
  const rows = await query<{ id: string; ok: boolean }>(
    url,
    `SELECT s.id::text AS id,
            (count(e.id) = s.last_sequence AND count(DISTINCT e.sequence) = s.last_sequence
             AND coalesce(min(e.sequence), 1) = 1 AND coalesce(max(e.sequence), 0) = s.last_sequence) AS ok
       FROM orchestrator_sessions s LEFT JOIN orchestrator_session_events e ON e.session_id = s.id AND ${ORCHESTRATOR_EVENT}
      WHERE s.orchestrator_session_id IS NOT NULL
      GROUP BY s.id`,
  );
  return rows.filter((row) => !row.ok).map((row) => row.id);
}

/** The orchestrator's own view of one session. */
export async function orchestratorStatus(orchestrator: OrchestratorInstance, id: string): Promise<{ status: string; exit_code?: number }> {
  const answer = await orchestratorCall<{ status: string; exit_code?: number }>(
    orchestrator,
    'GET',
    `/orchestrator/sessions/${encodeURIComponent(id)}/status`,
  );
  if (answer.status !== 200) throw new Error(`orchestrator status of ${id}: ${answer.status}`);
  return answer.body;
}

/** Every session the orchestrator knows, following cursors. */
export async function orchestratorSessions(orchestrator: OrchestratorInstance): Promise<{ session_id: string; status: string }[]> {
  const sessions: { session_id: string; status: string }[] = [];
  let cursor: string | null = null;
  do {
    const suffix: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await orchestratorCall<{ sessions: { session_id: string; status: string }[]; next_cursor: string | null }>(
      orchestrator,
      'GET',
      `/orchestrator/sessions?limit=500${suffix}`,
    );
    sessions.push(...page.body.sessions);
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return sessions;
}

export function eventFigures(account: EventAccount): Pick<Figures, 'sent' | 'stored' | 'lost' | 'duplicated'> {
  return { sent: account.sent, stored: account.stored, lost: account.lost, duplicated: account.duplicated };
}

export function expectNothingLost(account: EventAccount): void {
  expect(account.lost).toBe(0);
  expect(account.duplicated).toBe(0);
  expect(account.stored).toBe(account.sent);
}

export async function dispatch(api: ApiInstance, taskId: string) {
  return call<{ task_id: string; session: { id: string; status: string; orchestrator_session_id: string | null; error: string | null } }>(
    api.service.url,
    'POST',
    `/tasks/${taskId}/dispatch`,
  );
}
