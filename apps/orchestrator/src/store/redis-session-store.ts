import {
  PRIORITY_RANK,
  SESSION_STATUSES,
  TASK_PRIORITIES,
  TERMINAL_STATUSES,
  type CallbackEvent,
  type SessionStatus,
} from '@mosaic/orchestrator-contract';
import { Redis, type Result } from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  IdempotencyKeyReusedError,
  QueueFullError,
  type CreateResult,
  type EventFields,
  type NewSession,
  type NodeRecord,
  type SessionEnd,
  type SessionPage,
  type SessionStore,
  type StoredSession,
} from './session-store';
import { CursorSigner } from './signed-cursor';
import type { StoreSecrets } from './store-secrets';
import { callbackTarget, storedCallbackTarget, type StoredCallbackTarget } from './stored-origin';

/*
 * Keys, each after the prefix:
 *   session:<id>         hash of one session (fields below, plus `seq`, `event_sequence`, `spool_position`, and the
 *                        ids of the claim and the finish that won it)
 *   sequence             the counter that numbers sessions in creation order (`seq`)
 *   created              zset of every session by seq: newest-first paging
 *   status:<status>      zset of the sessions of one status by seq: the status filter and counts
 *   queue                zset of the pending sessions by rank * 2^40 + seq: ZRANK is the queue place
 *   running-on:<node>    zset of the sessions running on a node by seq
 *   ended                zset of the ended sessions by ended time: what forgetEndedBefore walks
 *   idempotency:<key>    hash { session, fingerprint }
 *   events:<session id>  hash event id → "<sequence> <timestamp ms> <fields JSON>" of unacknowledged events
 *   node:<id>            hash of one node
 *   node-leases          zset of node ids by lease expiry
 *   cursor-key           the HMAC key cursors are signed with, shared by every node
 *
 * The scripts derive keys from the prefix (ARGV[1]) rather than declaring them, since
 * several are only known inside the script (the session an idempotency key names):
 * the store needs one Redis server, not a Redis Cluster.
 */

// Seq is below 2^40 (a trillion sessions), so a score of rank * 2^40 + seq stays an exact double.
const RANK_FACTOR = 2 ** 40;
const FORGET_BATCH = 500;

const PRELUDE = `
local P = ARGV[1]
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

const TERMINAL_TABLE = `{ ${TERMINAL_STATUSES.map((status) => `['${status}'] = true`).join(', ')} }`;

const SCRIPTS = {
  sessionStoreCreate: `
local id, priority, rank, callback, task, maxPending, key, fingerprint = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if key then
  local existing = redis.call('HMGET', P .. 'idempotency:' .. key, 'session', 'fingerprint')
  if existing[1] then
    if existing[2] ~= fingerprint then return redis.error_reply('IDEMPOTENCY_KEY_REUSED the key names another request') end
    return {0, redis.call('HGETALL', P .. 'session:' .. existing[1])}
  end
end
if redis.call('ZCARD', P .. 'queue') >= tonumber(maxPending) then return redis.error_reply('QUEUE_FULL the queue is full') end
local session = P .. 'session:' .. id
if redis.call('EXISTS', session) == 1 then return redis.error_reply('SESSION_EXISTS the id is taken') end
local seq = redis.call('INCR', P .. 'sequence')
redis.call('HSET', session, 'id', id, 'status', 'pending', 'priority', priority, 'created_at', now(), 'seq', seq, 'callback', callback, 'task_json', task)
redis.call('ZADD', P .. 'created', seq, id)
redis.call('ZADD', P .. 'status:pending', seq, id)
redis.call('ZADD', P .. 'queue', tonumber(rank) * ${RANK_FACTOR} + seq, id)
if key then
  redis.call('HSET', session, 'idempotency_key', key)
  redis.call('HSET', P .. 'idempotency:' .. key, 'session', id, 'fingerprint', fingerprint)
end
return {1, redis.call('HGETALL', session)}
`,
  // ARGV[4] names this claim: the client sends a command again when Redis went away before answering it, and a
  // claim that had run must then still be won, not found lost.
  sessionStoreClaim: `
local id, node, claim = ARGV[2], ARGV[3], ARGV[4]
local session = P .. 'session:' .. id
local status = redis.call('HGET', session, 'status')
if status == 'running' and redis.call('HGET', session, 'claim') == claim then return redis.call('HGETALL', session) end
if status ~= 'pending' then return nil end
local seq = redis.call('HGET', session, 'seq')
redis.call('HSET', session, 'status', 'running', 'node', node, 'started_at', now(), 'claim', claim)
redis.call('ZREM', P .. 'queue', id)
redis.call('ZREM', P .. 'status:pending', id)
redis.call('ZADD', P .. 'status:running', seq, id)
redis.call('ZADD', P .. 'running-on:' .. node, seq, id)
return redis.call('HGETALL', session)
`,
  // ARGV[4] is ",<status>,<status>,": the statuses the session may have; ARGV[5] names this finish (a finish sent
  // again, as a claim is, still wins); the rest are field/value pairs to set.
  sessionStoreFinish: `
local id, status, from, finish = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local session = P .. 'session:' .. id
local current = redis.call('HGET', session, 'status')
if current and (${TERMINAL_TABLE})[current] and redis.call('HGET', session, 'finish') == finish then return redis.call('HGETALL', session) end
if not current or (${TERMINAL_TABLE})[current] or not string.find(from, ',' .. current .. ',', 1, true) then return nil end
local seq = redis.call('HGET', session, 'seq')
local ended = now()
redis.call('HSET', session, 'status', status, 'ended_at', ended, 'finish', finish, unpack(ARGV, 6))
redis.call('ZREM', P .. 'status:' .. current, id)
redis.call('ZADD', P .. 'status:' .. status, seq, id)
redis.call('ZREM', P .. 'queue', id)
local node = redis.call('HGET', session, 'node')
if node then redis.call('ZREM', P .. 'running-on:' .. node, id) end
redis.call('ZADD', P .. 'ended', ended, id)
return redis.call('HGETALL', session)
`,
  // ARGV[3] is the exclusive upper bound ("(<seq>" or "+inf"), ARGV[4] how many (-1: all).
  sessionStoreSessionsByScore: `
local ids = redis.call('ZREVRANGEBYSCORE', P .. ARGV[2], ARGV[3], '-inf', 'LIMIT', 0, ARGV[4])
local sessions = {}
for i, id in ipairs(ids) do sessions[i] = redis.call('HGETALL', P .. 'session:' .. id) end
return sessions
`,
  sessionStoreWithIdempotencyKey: `
local id = redis.call('HGET', P .. 'idempotency:' .. ARGV[2], 'session')
if not id then return nil end
return redis.call('HGETALL', P .. 'session:' .. id)
`,
  // 0 for an id that is not pending: a nil would end the Lua array there.
  sessionStoreQueuePositions: `
local positions = {}
for i = 2, #ARGV do
  local rank = redis.call('ZRANK', P .. 'queue', ARGV[i])
  positions[i - 1] = rank and rank + 1 or 0
end
return positions
`,
  sessionStoreForget: `
local ids = redis.call('ZRANGEBYSCORE', P .. 'ended', '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  local session = P .. 'session:' .. id
  local fields = redis.call('HMGET', session, 'status', 'idempotency_key')
  if fields[1] then redis.call('ZREM', P .. 'status:' .. fields[1], id) end
  if fields[2] then redis.call('DEL', P .. 'idempotency:' .. fields[2]) end
  redis.call('DEL', session, P .. 'events:' .. id)
  redis.call('ZREM', P .. 'created', id)
  redis.call('ZREM', P .. 'ended', id)
end
return #ids
`,
  // An append sent again (as a claim is) finds its event, still unacknowledged since nobody had it, and returns it as numbered.
  sessionStoreAppendEvent: `
local session = P .. 'session:' .. ARGV[2]
if redis.call('EXISTS', session) == 0 then return redis.error_reply('NO_SUCH_SESSION no such session') end
local events = P .. 'events:' .. ARGV[2]
local appended = redis.call('HGET', events, ARGV[3])
if appended then return appended end
local sequence = redis.call('HINCRBY', session, 'event_sequence', 1)
local stored = string.format('%d %d %s', sequence, now(), ARGV[4])
redis.call('HSET', events, ARGV[3], stored)
local position = tonumber(ARGV[5])
if position and position > tonumber(redis.call('HGET', session, 'spool_position') or '0') then
  redis.call('HSET', session, 'spool_position', position)
end
return stored
`,
  sessionStoreRenewNode: `
local id = ARGV[2]
redis.call('HSET', P .. 'node:' .. id, 'id', id, 'url', ARGV[3], 'capacity', ARGV[4], 'active_sessions', ARGV[5], 'signature', ARGV[7])
redis.call('ZADD', P .. 'node-leases', now() + tonumber(ARGV[6]), id)
`,
  sessionStoreLiveNodes: `
local ids = redis.call('ZRANGEBYSCORE', P .. 'node-leases', string.format('(%d', now()), '+inf')
local nodes = {}
for i, id in ipairs(ids) do nodes[i] = redis.call('HGETALL', P .. 'node:' .. id) end
return nodes
`,
  sessionStoreCountByStatus: `
local counts = {}
for i = 2, #ARGV do counts[i - 1] = redis.call('ZCARD', P .. 'status:' .. ARGV[i]) end
return counts
`,
  sessionStoreClaimExpiredNodes: `
local own = redis.call('ZSCORE', P .. 'node-leases', ARGV[2])
if not own or tonumber(own) < now() + tonumber(ARGV[3]) then return {} end
local ids = redis.call('ZRANGEBYSCORE', P .. 'node-leases', '-inf', now())
for _, id in ipairs(ids) do
  redis.call('ZREM', P .. 'node-leases', id)
  redis.call('DEL', P .. 'node:' .. id)
end
return ids
`,
} as const;

type ScriptArgument = string | number;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** [created (1) or replayed (0), the session's hash]. */
    sessionStoreCreate(...args: ScriptArgument[]): Result<[number, string[]], Context>;
    sessionStoreClaim(...args: ScriptArgument[]): Result<string[] | null, Context>;
    sessionStoreFinish(...args: ScriptArgument[]): Result<string[] | null, Context>;
    sessionStoreSessionsByScore(...args: ScriptArgument[]): Result<string[][], Context>;
    sessionStoreWithIdempotencyKey(...args: ScriptArgument[]): Result<string[] | null, Context>;
    sessionStoreQueuePositions(...args: ScriptArgument[]): Result<number[], Context>;
    sessionStoreForget(...args: ScriptArgument[]): Result<number, Context>;
    sessionStoreAppendEvent(...args: ScriptArgument[]): Result<string, Context>;
    sessionStoreRenewNode(...args: ScriptArgument[]): Result<null, Context>;
    sessionStoreLiveNodes(...args: ScriptArgument[]): Result<string[][], Context>;
    sessionStoreCountByStatus(...args: ScriptArgument[]): Result<number[], Context>;
    sessionStoreClaimExpiredNodes(...args: ScriptArgument[]): Result<string[], Context>;
  }
}

/** Sessions and nodes in Redis, shared by every node of the cluster (see the key list above). */
export class RedisSessionStore implements SessionStore {
  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly cursors: CursorSigner,
    private readonly secrets: StoreSecrets,
  ) {}

  static async connect(options: { url: string; prefix: string; secrets: StoreSecrets }): Promise<RedisSessionStore> {
    const redis = new Redis(options.url);
    try {
      for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua: PRELUDE + lua });
      // The first node to connect picks the key; every later one reads it, so all accept each other's cursors.
      const candidate = randomBytes(32).toString('base64');
      const existing = await redis.set(`${options.prefix}cursor-key`, candidate, 'NX', 'GET');
      return new RedisSessionStore(redis, options.prefix, new CursorSigner(Buffer.from(existing ?? candidate, 'base64')), options.secrets);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
  }

  async create(session: NewSession, maxPending: number): Promise<CreateResult> {
    const args: ScriptArgument[] = [
      this.prefix,
      session.id,
      session.priority,
      PRIORITY_RANK[session.priority],
      JSON.stringify(storedCallbackTarget(session.id, session.callback, this.secrets)),
      session.taskJson,
      maxPending,
    ];
    if (session.idempotency !== undefined) args.push(session.idempotency.key, session.idempotency.fingerprint);
    try {
      const [created, hash] = await this.redis.sessionStoreCreate(...args);
      return { session: sessionFrom(hashFrom(hash), this.secrets), created: created === 1 };
    } catch (error) {
      if (isScriptError(error, 'IDEMPOTENCY_KEY_REUSED')) throw new IdempotencyKeyReusedError();
      if (isScriptError(error, 'QUEUE_FULL')) throw new QueueFullError(maxPending);
      if (isScriptError(error, 'SESSION_EXISTS')) throw new Error(`a session ${session.id} exists already`);
      throw error;
    }
  }

  async get(id: string): Promise<StoredSession | undefined> {
    const hash = await this.redis.hgetall(this.key('session', id));
    return hash.id === undefined ? undefined : sessionFrom(hash, this.secrets);
  }

  async withIdempotencyKey(key: string): Promise<StoredSession | undefined> {
    return optionalSession(this.secrets, await this.redis.sessionStoreWithIdempotencyKey(this.prefix, key));
  }

  async list(options: { status?: SessionStatus; limit: number; cursor?: string }): Promise<SessionPage> {
    const below = options.cursor === undefined ? '+inf' : `(${this.cursors.positionOf(options.cursor)}`;
    const set = options.status === undefined ? 'created' : `status:${options.status}`;
    // One more than asked says whether another page follows.
    const hashes = await this.redis.sessionStoreSessionsByScore(this.prefix, set, below, options.limit + 1);
    const page = hashes.slice(0, options.limit);
    const last = page.at(-1);
    return {
      sessions: page.map((flat) => sessionFrom(hashFrom(flat), this.secrets)),
      nextCursor: hashes.length > options.limit && last !== undefined ? this.cursors.issue(hashFrom(last).seq) : null,
    };
  }

  async queuePositions(ids: readonly string[]): Promise<Map<string, number>> {
    const positions = new Map<string, number>();
    if (ids.length === 0) return positions;
    const places = await this.redis.sessionStoreQueuePositions(this.prefix, ...ids);
    ids.forEach((id, index) => {
      const place = places[index];
      if (place > 0) positions.set(id, place);
    });
    return positions;
  }

  countPending(): Promise<number> {
    return this.redis.zcard(this.key('queue'));
  }

  async countByStatus(): Promise<Record<SessionStatus, number>> {
    const counts = await this.redis.sessionStoreCountByStatus(this.prefix, ...SESSION_STATUSES);
    return Object.fromEntries(SESSION_STATUSES.map((status, index) => [status, counts[index]])) as Record<SessionStatus, number>;
  }

  async claim(id: string, node: string): Promise<StoredSession | undefined> {
    return optionalSession(this.secrets, await this.redis.sessionStoreClaim(this.prefix, id, node, randomUUID()));
  }

  async finish(id: string, end: SessionEnd, from: readonly SessionStatus[] = SESSION_STATUSES): Promise<StoredSession | undefined> {
    const fields: ScriptArgument[] = [];
    if (end.exitCode !== undefined) fields.push('exit_code', end.exitCode);
    if (end.error !== undefined) fields.push('error', end.error);
    return optionalSession(
      this.secrets,
      await this.redis.sessionStoreFinish(this.prefix, id, end.status, `,${from.join(',')},`, randomUUID(), ...fields),
    );
  }

  async runningOn(node: string): Promise<StoredSession[]> {
    const hashes = await this.redis.sessionStoreSessionsByScore(this.prefix, `running-on:${node}`, '+inf', -1);
    return hashes.map((flat) => sessionFrom(hashFrom(flat), this.secrets));
  }

  async forgetEndedBefore(cutoff: Date): Promise<number> {
    // In batches, so one call with a long backlog does not block Redis for every other node.
    let forgotten = 0;
    for (;;) {
      const batch = await this.redis.sessionStoreForget(this.prefix, cutoff.getTime(), FORGET_BATCH);
      forgotten += batch;
      if (batch < FORGET_BATCH) return forgotten;
    }
  }

  async appendEvent(sessionId: string, fields: EventFields, spoolPosition?: number): Promise<CallbackEvent> {
    const eventId = randomUUID();
    const json = JSON.stringify({ type: fields.type, status: fields.status, data: fields.data });
    try {
      const stored = await this.redis.sessionStoreAppendEvent(this.prefix, sessionId, eventId, json, spoolPosition ?? '');
      return eventFrom(sessionId, eventId, stored);
    } catch (error) {
      if (isScriptError(error, 'NO_SUCH_SESSION')) throw new Error(`no session ${sessionId}`);
      throw error;
    }
  }

  async acknowledgeEvent(sessionId: string, eventId: string): Promise<void> {
    await this.redis.hdel(this.key('events', sessionId), eventId);
  }

  async unacknowledgedEvents(sessionId: string): Promise<CallbackEvent[]> {
    const stored = await this.redis.hgetall(this.key('events', sessionId));
    return Object.entries(stored)
      .map(([eventId, value]) => eventFrom(sessionId, eventId, value))
      .sort((a, b) => a.sequence - b.sequence);
  }

  async renewNode(node: NodeRecord, leaseMs: number): Promise<void> {
    await this.redis.sessionStoreRenewNode(this.prefix, node.id, node.url, node.capacity, node.activeSessions, leaseMs, node.signature);
  }

  async leaveNode(id: string): Promise<void> {
    await this.redis.multi().zrem(this.key('node-leases'), id).del(this.key('node', id)).exec();
  }

  async liveNodes(): Promise<NodeRecord[]> {
    const hashes = await this.redis.sessionStoreLiveNodes(this.prefix);
    return hashes.map((flat) => {
      const hash = hashFrom(flat);
      return {
        id: hash.id,
        url: hash.url,
        capacity: Number(hash.capacity),
        activeSessions: Number(hash.active_sessions),
        signature: hash.signature ?? '',
      };
    });
  }

  claimExpiredNodes(claimant: string, minRemainingMs: number): Promise<string[]> {
    return this.redis.sessionStoreClaimExpiredNodes(this.prefix, claimant, minRemainingMs);
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }

  private key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }
}

/** Redis takes an error reply's first word as its code, and only when a message follows it. */
function isScriptError(error: unknown, code: string): boolean {
  return error instanceof Error && error.message.startsWith(`${code} `);
}

/** HGETALL's reply as Redis sends it (field, value, field, value, …) as a record. */
function hashFrom(flat: readonly string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let index = 0; index + 1 < flat.length; index += 2) hash[flat[index]] = flat[index + 1];
  return hash;
}

function optionalSession(secrets: StoreSecrets, flat: readonly string[] | null): StoredSession | undefined {
  return flat === null ? undefined : sessionFrom(hashFrom(flat), secrets);
}

function sessionFrom(hash: Partial<Record<string, string>>, secrets: StoreSecrets): StoredSession {
  const required = (field: string): string => {
    const value = hash[field];
    if (value === undefined) throw new Error(`stored session ${hash.id ?? '?'} has no ${field}`);
    return value;
  };
  const date = (field: string): Date | undefined => (hash[field] === undefined ? undefined : new Date(Number(hash[field])));
  const target = callbackTarget(required('id'), JSON.parse(required('callback')) as StoredCallbackTarget, secrets);
  const startedAt = date('started_at');
  const endedAt = date('ended_at');
  return {
    id: required('id'),
    status: oneOf(SESSION_STATUSES, required('status')),
    priority: oneOf(TASK_PRIORITIES, required('priority')),
    createdAt: new Date(Number(required('created_at'))),
    ...(startedAt !== undefined && { startedAt }),
    ...(endedAt !== undefined && { endedAt }),
    ...(hash.exit_code !== undefined && { exitCode: Number(hash.exit_code) }),
    ...(hash.error !== undefined && { error: hash.error }),
    ...(hash.node !== undefined && { node: hash.node }),
    ...(hash.idempotency_key !== undefined && { idempotencyKey: hash.idempotency_key }),
    callback: target,
    taskJson: required('task_json'),
    spoolPosition: Number(hash.spool_position ?? 0),
  };
}

function oneOf<T extends string>(values: readonly T[], value: string): T {
  const found = values.find((candidate) => candidate === value);
  if (found === undefined) throw new Error(`unexpected stored value ${JSON.stringify(value)}`);
  return found;
}

function eventFrom(sessionId: string, eventId: string, stored: string): CallbackEvent {
  const match = /^(\d+) (\d+) (.*)$/s.exec(stored);
  if (match === null) throw new Error(`stored event ${eventId} of session ${sessionId} is malformed`);
  const [, sequence, timestamp, json] = match as unknown as [string, string, string, string];
  // EventFields is a Pick of the union, so it no longer says which `data` goes with which `type`; appendEvent stored what it was given.
  return {
    ...(JSON.parse(json) as EventFields),
    event_id: eventId,
    session_id: sessionId,
    sequence: Number(sequence),
    timestamp: new Date(Number(timestamp)).toISOString(),
  } as CallbackEvent;
}
