import {
  PRIORITY_RANK,
  SESSION_STATUSES,
  TERMINAL_STATUSES,
  type CallbackEvent,
  type SessionStatus,
  type TaskPriority,
  unstorableText,
} from '@mosaic/orchestrator-contract';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, escapeIdentifier, type PoolClient, type QueryResult, type QueryResultRow } from 'pg';
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

interface SessionRow {
  id: string;
  status: SessionStatus;
  priority: TaskPriority;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  exit_code: number | null;
  error: string | null;
  node: string | null;
  idempotency_key: string | null;
  callback: StoredCallbackTarget;
  task_json: string;
  /** bigint: pg returns it as text. */
  spool_position: string;
}

const SESSION_COLUMNS =
  'id, status, priority, created_at, started_at, ended_at, exit_code, error, node, idempotency_key, callback, task_json, spool_position';

function toSession(row: SessionRow, secrets: StoreSecrets): StoredSession {
  return {
    id: row.id,
    status: row.status,
    priority: row.priority,
    createdAt: row.created_at,
    ...(row.started_at === null ? {} : { startedAt: row.started_at }),
    ...(row.ended_at === null ? {} : { endedAt: row.ended_at }),
    ...(row.exit_code === null ? {} : { exitCode: row.exit_code }),
    ...(row.error === null ? {} : { error: row.error }),
    ...(row.node === null ? {} : { node: row.node }),
    ...(row.idempotency_key === null ? {} : { idempotencyKey: row.idempotency_key }),
    callback: callbackTarget(row.id, row.callback, secrets),
    taskJson: row.task_json,
    spoolPosition: Number(row.spool_position),
  };
}

interface NodeRow {
  id: string;
  url: string;
  capacity: number;
  active_sessions: number;
  signature: string;
}

/** How long a statement waits for a restarting database: about as long as ioredis retries a command while it reconnects. */
const UNREACHABLE_WAIT_MS = 10_000;

// ISO 8601 in UTC with milliseconds, as `Date.prototype.toISOString` writes it.
const ISO_TIMESTAMP = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The SessionStore on PostgreSQL, in tables of one schema. Every time it records
 * (creation, start, end, event timestamps, lease expiry) comes from the database's
 * clock, so nodes whose clocks disagree still agree about order and leases.
 */
export class PostgresSessionStore implements SessionStore {
  private constructor(
    private readonly pool: Pool,
    private readonly schema: string,
    private readonly cursors: CursorSigner,
    private readonly secrets: StoreSecrets,
  ) {}

  /** Creates the schema and its tables unless they exist, and returns the store on them. */
  static async connect(options: { connectionString: string; schema: string; secrets: StoreSecrets }): Promise<PostgresSessionStore> {
    const pool = new Pool({ connectionString: options.connectionString });
    // An idle connection the server dropped is discarded by the pool and the next query opens
    // another; without a listener the 'error' event would end the process instead.
    pool.on('error', () => undefined);
    const schema = escapeIdentifier(options.schema);
    try {
      const cursorKey = await inTransaction(pool, async (client) => {
        // Nodes starting together would race on CREATE … IF NOT EXISTS, which is not safe
        // against a concurrent create of the same name (a unique violation in the catalog).
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`mosaic session store ddl ${options.schema}`]);
        for (const statement of schemaDefinition(schema)) await client.query(statement);
        // Created once: every node signs and checks cursors with the same key.
        await client.query(`INSERT INTO ${schema}.cursor_key (key) VALUES ($1) ON CONFLICT DO NOTHING`, [randomBytes(32)]);
        const { rows } = await client.query<{ key: Buffer }>(`SELECT key FROM ${schema}.cursor_key`);
        return rows[0]!.key;
      });
      return new PostgresSessionStore(pool, schema, new CursorSigner(cursorKey), options.secrets);
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  async create(session: NewSession, maxPending: number): Promise<CreateResult> {
    // create_session (schemaDefinition) counts and inserts under a cluster-wide lock in one round trip:
    // the lock is held only while the server runs it, never while a busy node gets round to its next statement.
    const inserted = await this.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM ${this.schema}.create_session($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        session.id,
        session.priority,
        PRIORITY_RANK[session.priority],
        session.idempotency?.key ?? null,
        session.idempotency?.fingerprint ?? null,
        JSON.stringify(storedCallbackTarget(session.id, session.callback, this.secrets)),
        session.taskJson,
        maxPending,
        `mosaic session store pending ${this.schema}`,
      ],
    );
    const created = inserted.rows[0];
    if (created) return { session: toSession(created, this.secrets), created: true };
    // Nothing was inserted: either the key names a session (whether or not the queue is
    // full, a repeated request gets its session back) or the queue is full.
    if (session.idempotency) {
      const existing = await this.query<SessionRow & { fingerprint: string }>(
        `SELECT ${SESSION_COLUMNS}, fingerprint FROM ${this.schema}.sessions WHERE idempotency_key = $1`,
        [session.idempotency.key],
      );
      const row = existing.rows[0];
      if (row) {
        if (row.fingerprint !== session.idempotency.fingerprint) throw new IdempotencyKeyReusedError();
        return { session: toSession(row, this.secrets), created: false };
      }
    }
    throw new QueueFullError(maxPending);
  }

  async get(id: string): Promise<StoredSession | undefined> {
    // Text PostgreSQL cannot hold (a NUL) names no session, and would fail the query: a hostile id is unknown, not a fault.
    if (unstorableText(id) !== undefined) return undefined;
    const { rows } = await this.query<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM ${this.schema}.sessions WHERE id = $1`, [id]);
    return rows[0] && toSession(rows[0], this.secrets);
  }

  async withIdempotencyKey(key: string): Promise<StoredSession | undefined> {
    if (unstorableText(key) !== undefined) return undefined;
    const { rows } = await this.query<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM ${this.schema}.sessions WHERE idempotency_key = $1`, [
      key,
    ]);
    return rows[0] && toSession(rows[0], this.secrets);
  }

  async list(options: { status?: SessionStatus; limit: number; cursor?: string }): Promise<SessionPage> {
    const after = options.cursor === undefined ? null : this.cursors.positionOf(options.cursor);
    // One row more than the page tells whether another page follows.
    const { rows } = await this.query<SessionRow & { seq: string }>(
      `SELECT ${SESSION_COLUMNS}, seq FROM ${this.schema}.sessions
       WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR seq < $2)
       ORDER BY seq DESC LIMIT $3`,
      [options.status ?? null, after, options.limit + 1],
    );
    const page = rows.slice(0, options.limit);
    const last = page.at(-1);
    return {
      sessions: page.map((row) => toSession(row, this.secrets)),
      nextCursor: rows.length > options.limit && last ? this.cursors.issue(last.seq) : null,
    };
  }

  async queuePositions(ids: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await this.query<{ id: string; position: number }>(
      `SELECT id, position FROM (
         SELECT id, row_number() OVER (ORDER BY priority_rank, seq)::int AS position
         FROM ${this.schema}.sessions WHERE status = 'pending'
       ) queue WHERE id = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, row.position]));
  }

  async countPending(): Promise<number> {
    const { rows } = await this.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM ${this.schema}.sessions WHERE status = 'pending'`,
    );
    return rows[0]!.count;
  }

  async countByStatus(): Promise<Record<SessionStatus, number>> {
    const { rows } = await this.query<{ status: SessionStatus; count: number }>(
      `SELECT status, count(*)::int AS count FROM ${this.schema}.sessions GROUP BY status`,
    );
    const counts = Object.fromEntries(SESSION_STATUSES.map((status) => [status, 0])) as Record<SessionStatus, number>;
    for (const row of rows) counts[row.status] = row.count;
    return counts;
  }

  async claim(id: string, node: string): Promise<StoredSession | undefined> {
    // The WHERE is evaluated again on the row a concurrent claim left: only one sees `pending`.
    const { rows } = await this.query<SessionRow>(
      `UPDATE ${this.schema}.sessions SET status = 'running', node = $2, started_at = clock_timestamp()
       WHERE id = $1 AND status = 'pending'
       RETURNING ${SESSION_COLUMNS}`,
      [id, node],
    );
    return rows[0] && toSession(rows[0], this.secrets);
  }

  async finish(id: string, end: SessionEnd, from?: readonly SessionStatus[]): Promise<StoredSession | undefined> {
    const { rows } = await this.query<SessionRow>(
      `UPDATE ${this.schema}.sessions SET status = $2, exit_code = $3, error = $4, ended_at = clock_timestamp()
       WHERE id = $1 AND status <> ALL($5::text[]) AND ($6::text[] IS NULL OR status = ANY($6::text[]))
       RETURNING ${SESSION_COLUMNS}`,
      [id, end.status, end.exitCode ?? null, end.error ?? null, TERMINAL_STATUSES, from ?? null],
    );
    return rows[0] && toSession(rows[0], this.secrets);
  }

  async runningOn(node: string): Promise<StoredSession[]> {
    const { rows } = await this.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM ${this.schema}.sessions WHERE status = 'running' AND node = $1 ORDER BY seq`,
      [node],
    );
    return rows.map((row) => toSession(row, this.secrets));
  }

  async forgetEndedBefore(cutoff: Date): Promise<number> {
    // The events go with their session (ON DELETE CASCADE), the idempotency key with its row.
    const { rowCount } = await this.query(`DELETE FROM ${this.schema}.sessions WHERE ended_at < $1`, [cutoff]);
    return rowCount ?? 0;
  }

  async appendEvent(sessionId: string, fields: EventFields, spoolPosition?: number): Promise<CallbackEvent> {
    // The UPDATE locks the session's row until the statement commits, so concurrent appends
    // take the numbers one after another; the spool position moves in the same statement.
    const { rows } = await this.query<{ body: CallbackEvent }>(
      `WITH numbered AS (
         UPDATE ${this.schema}.sessions
         SET last_sequence = last_sequence + 1, spool_position = GREATEST(spool_position, COALESCE($4::bigint, 0))
         WHERE id = $1 RETURNING id, last_sequence
       )
       INSERT INTO ${this.schema}.events (session_id, sequence, event_id, body)
       SELECT id, last_sequence, $2,
              $3::jsonb || jsonb_build_object('event_id', $2::text, 'session_id', id, 'sequence', last_sequence, 'timestamp', ${ISO_TIMESTAMP})
       FROM numbered
       RETURNING body`,
      [sessionId, randomUUID(), JSON.stringify(fields), spoolPosition ?? null],
    );
    const event = rows[0];
    if (!event) throw new Error(`no session ${sessionId}`);
    return event.body;
  }

  async acknowledgeEvent(sessionId: string, eventId: string): Promise<void> {
    await this.query(`DELETE FROM ${this.schema}.events WHERE session_id = $1 AND event_id = $2`, [sessionId, eventId]);
  }

  async unacknowledgedEvents(sessionId: string): Promise<CallbackEvent[]> {
    const { rows } = await this.query<{ body: CallbackEvent }>(
      `SELECT body FROM ${this.schema}.events WHERE session_id = $1 ORDER BY sequence`,
      [sessionId],
    );
    return rows.map((row) => row.body);
  }

  async renewNode(node: NodeRecord, leaseMs: number): Promise<void> {
    await this.query(
      `INSERT INTO ${this.schema}.nodes (id, url, capacity, active_sessions, expires_at, signature)
       VALUES ($1, $2, $3, $4, clock_timestamp() + $5 * interval '1 millisecond', $6)
       ON CONFLICT (id) DO UPDATE
       SET url = excluded.url, capacity = excluded.capacity, active_sessions = excluded.active_sessions,
           expires_at = excluded.expires_at, signature = excluded.signature`,
      [node.id, node.url, node.capacity, node.activeSessions, leaseMs, node.signature],
    );
  }

  async leaveNode(id: string): Promise<void> {
    await this.query(`DELETE FROM ${this.schema}.nodes WHERE id = $1`, [id]);
  }

  async liveNodes(): Promise<NodeRecord[]> {
    const { rows } = await this.query<NodeRow>(
      `SELECT id, url, capacity, active_sessions, signature FROM ${this.schema}.nodes WHERE expires_at >= clock_timestamp() ORDER BY id`,
    );
    return rows.map((row) => ({
      id: row.id,
      url: row.url,
      capacity: row.capacity,
      activeSessions: row.active_sessions,
      signature: row.signature,
    }));
  }

  async claimExpiredNodes(claimant: string, minRemainingMs: number): Promise<string[]> {
    // A concurrent DELETE waits for the row, then finds it gone: each id is returned once.
    const { rows } = await this.query<{ id: string }>(
      `DELETE FROM ${this.schema}.nodes WHERE expires_at < clock_timestamp()
         AND EXISTS (SELECT 1 FROM ${this.schema}.nodes WHERE id = $1 AND expires_at >= clock_timestamp() + $2 * interval '1 millisecond')
       RETURNING id`,
      [claimant, minRemainingMs],
    );
    return rows.map((row) => row.id);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * A statement the database dropped because it was restarting is sent again, for up to UNREACHABLE_WAIT_MS: an
   * event of a running agent, or its end, must not be lost to a restart of a few seconds. The Redis store's client
   * waits the same way.
   */
  private async query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    const deadline = Date.now() + UNREACHABLE_WAIT_MS;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        return await this.pool.query<R>(text, values);
      } catch (error) {
        if (!droppedByRestart(error) || Date.now() + delay > deadline) throw error;
        await sleep(delay);
      }
    }
  }
}

/**
 * The server restarting: the connection refused or reset, or the server shutting down, crashed or not yet accepting
 * connections (SQLSTATE 57P01..57P03). The statement did not run, or its transaction was rolled back with the
 * session; only a crash between a commit and its answer would have it run twice, as the Redis client does with the
 * commands it had in flight.
 */
function droppedByRestart(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P02', '57P03'].includes(String(code)) || message === 'Connection terminated unexpectedly'
  );
}

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    // A connection whose rollback failed is in an unknown state: the pool must not reuse it.
    await client.query('ROLLBACK').then(
      () => client.release(),
      (rollbackError: Error) => client.release(rollbackError),
    );
    throw error;
  }
}

function schemaDefinition(schema: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    `CREATE TABLE IF NOT EXISTS ${schema}.sessions (
       id text PRIMARY KEY,
       seq bigserial NOT NULL UNIQUE,
       status text NOT NULL,
       priority text NOT NULL,
       priority_rank smallint NOT NULL,
       created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       started_at timestamptz,
       ended_at timestamptz,
       exit_code integer,
       error text,
       node text,
       idempotency_key text UNIQUE,
       fingerprint text,
       callback jsonb NOT NULL,
       task_json text NOT NULL,
       last_sequence integer NOT NULL DEFAULT 0
     )`,
    // Added after the first release of this schema: stores made before it gain the column here.
    `ALTER TABLE ${schema}.sessions ADD COLUMN IF NOT EXISTS spool_position bigint NOT NULL DEFAULT 0`,
    `CREATE INDEX IF NOT EXISTS sessions_queue ON ${schema}.sessions (priority_rank, seq) WHERE status = 'pending'`,
    `CREATE INDEX IF NOT EXISTS sessions_by_status ON ${schema}.sessions (status, seq)`,
    `CREATE INDEX IF NOT EXISTS sessions_running ON ${schema}.sessions (node) WHERE status = 'running'`,
    `CREATE INDEX IF NOT EXISTS sessions_ended ON ${schema}.sessions (ended_at) WHERE ended_at IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${schema}.events (
       session_id text NOT NULL REFERENCES ${schema}.sessions (id) ON DELETE CASCADE,
       sequence integer NOT NULL,
       event_id text NOT NULL,
       body jsonb NOT NULL,
       PRIMARY KEY (session_id, sequence)
     )`,
    `CREATE TABLE IF NOT EXISTS ${schema}.nodes (
       id text PRIMARY KEY,
       url text NOT NULL,
       capacity integer NOT NULL,
       active_sessions integer NOT NULL,
       expires_at timestamptz NOT NULL
     )`,
    // Added after the table: a record from before has no signature, and no node follows it.
    `ALTER TABLE ${schema}.nodes ADD COLUMN IF NOT EXISTS signature text NOT NULL DEFAULT ''`,
    // Counting pending sessions and inserting one is not atomic under READ COMMITTED: two creates
    // could both see room for one more. The lock makes the creates of the cluster take turns, and
    // the INSERT, a statement of its own in a volatile function, counts with a snapshot taken
    // after the lock, so it sees what the previous holder committed. (SERIALIZABLE would do too,
    // at the price of retrying the losers.)
    `CREATE OR REPLACE FUNCTION ${schema}.create_session(
       p_id text, p_priority text, p_priority_rank smallint, p_idempotency_key text, p_fingerprint text,
       p_callback jsonb, p_task_json text, p_max_pending integer, p_lock text
     ) RETURNS SETOF ${schema}.sessions LANGUAGE plpgsql VOLATILE AS $$
     BEGIN
       PERFORM pg_advisory_xact_lock(hashtextextended(p_lock, 0));
       RETURN QUERY
         INSERT INTO ${schema}.sessions (id, status, priority, priority_rank, idempotency_key, fingerprint, callback, task_json)
         SELECT p_id, 'pending', p_priority, p_priority_rank, p_idempotency_key, p_fingerprint, p_callback, p_task_json
         WHERE (SELECT count(*) FROM ${schema}.sessions WHERE status = 'pending') < p_max_pending
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING *;
     END
     $$`,
    `CREATE TABLE IF NOT EXISTS ${schema}.cursor_key (
       singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
       key bytea NOT NULL
     )`,
  ];
}
