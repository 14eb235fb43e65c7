import { STORE_ARTIFACT } from '../artifacts/callback-batch-artifacts.sql';
import { BUDGET_CLAIM, DAILY_USAGE, usageTotals } from '../budgets/callback-batch-usage.sql';
import { prepared } from '../database/prisma.service';
import { MOVE_STATUS, MOVE_TASK } from '../sessions/callback-batch-moves.sql';
import { REPORT_COLUMNS } from '../sessions/status-report.sql';

/*
 * The callback batch: one statement that stores a batch of callbacks, at most one per session, each as if alone.
 * Its parts are CTEs named after what they do, each with a header naming what it reads and what it yields; the
 * callback's own parts are here, the status moves in sessions/callback-batch-moves.sql.ts, the usage and budget
 * accounting in budgets/callback-batch-usage.sql.ts and the artifacts' contents in artifacts/callback-batch-artifacts.sql.ts. They run as one statement (one round trip, one commit, prepared
 * once per connection): the row lock taken by `authenticate` makes every later part see the same session row.
 */

/** The columns of the batch's input rows, one array parameter each from $2 on, and their SQL types. */
export const EVENT_COLUMNS = [
  ['session_id', 'uuid'],
  ['token_hash', 'text'],
  ['expires_after', 'timestamptz'],
  ['ended_after', 'timestamptz'],
  ['signed', 'boolean'],
  ['orchestrator_session_id', 'text'],
  ['event_id', 'text'],
  ['sequence', 'int'],
  ['type', 'session_event_type'],
  ['status', 'session_status'],
  ['occurred_at', 'timestamptz'],
  ['data', 'jsonb'],
  // An artifact event's content, kept out of `data` (NULL for every other event).
  ['content_base64', 'text'],
  ...REPORT_COLUMNS,
] as const;

/** The last parameter, after the columns: SESSION_SPEND_CEILING_USD (callback-batch-usage.sql.ts). */
const SESSION_SPEND_CEILING_USD = `$${EVENT_COLUMNS.length + 2}::numeric`;

/**
 * The token rule of CallbackTokenService, applied by the database to the
 * session `s`: the hash matches, the token has not expired by `expiresAfter`,
 * and the session has not been terminal since before `endedAfter`. Comparing
 * hashes need not be constant-time: how much of a SHA-256 digest matches
 * tells nothing about the token.
 */
function acceptsToken(token: {
  sessionId: string;
  tokenHash: string;
  expiresAfter: string;
  endedAfter: string;
  terminalStatuses: string;
  signed: string;
}): string {
  return `s.id = ${token.sessionId}
    AND s.callback_token_hash = ${token.tokenHash}
    AND s.callback_token_expires_at > ${token.expiresAfter}
    AND (s.ended_at IS NULL OR s.status <> ALL(${token.terminalStatuses}::text[]::session_status[]) OR s.ended_at > ${token.endedAfter})
    AND (NOT s.callbacks_signed OR ${token.signed})`;
}

/**
 * The batch's rows, one per callback.
 * Input: $2… one array per EVENT_COLUMNS column, one element per callback.
 * Output: input(EVENT_COLUMNS…, n), n the callback's place in the batch.
 */
const INPUT = `input AS (
      SELECT * FROM unnest(${EVENT_COLUMNS.map(([, type], index) => `$${index + 2}::${type}[]`).join(', ')})
      WITH ORDINALITY AS i(${EVENT_COLUMNS.map(([column]) => column).join(', ')}, n)
    )`;

/**
 * Authenticate: the session each callback's token is valid for, locked, and whether its event belongs to it.
 * Input: input (session_id, token_hash, expires_after, ended_after, signed, orchestrator_session_id); $1 the
 * terminal statuses. Locks in session id order, so that two batches cannot wait on each other.
 * Output: target(n, id, task_id, status, orchestrator_session_id, input_tokens, output_tokens, cost_usd,
 * budget_exceeded_at, budget_max_tokens, budget_max_cost_usd), a row per callback with a valid token;
 * owned(the same columns), those whose event names the session's orchestrator session, or names one no other
 * session has while this one has none yet.
 */
const AUTHENTICATE = `target AS (
      SELECT i.n, s.id, s.task_id, s.status, s.orchestrator_session_id, s.input_tokens, s.output_tokens, s.cost_usd, s.budget_exceeded_at,
             s.budget_max_tokens, s.budget_max_cost_usd
        FROM (SELECT * FROM input ORDER BY session_id) AS i
        CROSS JOIN LATERAL (
          SELECT s.id, s.task_id, s.status, s.orchestrator_session_id, s.input_tokens, s.output_tokens, s.cost_usd, s.budget_exceeded_at,
                 tasks.budget_max_tokens, tasks.budget_max_cost_usd
            FROM orchestrator_sessions AS s JOIN tasks ON tasks.id = s.task_id
           WHERE ${acceptsToken({ sessionId: 'i.session_id', tokenHash: 'i.token_hash', expiresAfter: 'i.expires_after', endedAfter: 'i.ended_after', terminalStatuses: '$1', signed: 'i.signed' })}
             FOR UPDATE OF s
        ) AS s
    ), owned AS (
      SELECT t.*
        FROM target AS t JOIN input AS i ON i.n = t.n
       WHERE t.orchestrator_session_id = i.orchestrator_session_id
          OR (t.orchestrator_session_id IS NULL AND NOT EXISTS (
                SELECT 1 FROM orchestrator_sessions AS o WHERE o.orchestrator_session_id = i.orchestrator_session_id AND o.id <> t.id))
    )`;

/**
 * Deduplicate: stores each owned callback's event unless its id is stored already. The unique index decides, so
 * concurrent redeliveries cannot both get in.
 * Input: owned (n, id), input (event_id, sequence, type, status, occurred_at, data).
 * Output: inserted(session_id), the sessions whose event is new: only these count usage and move.
 */
const DEDUPLICATE = `inserted AS (
      INSERT INTO orchestrator_session_events (session_id, event_id, sequence, type, status, occurred_at, data)
      SELECT o.id, i.event_id, i.sequence, i.type, i.status, i.occurred_at, i.data
        FROM owned AS o JOIN input AS i ON i.n = o.n
      ON CONFLICT (session_id, event_id) DO NOTHING
      RETURNING session_id
    )`;

/**
 * The answer: what became of each callback, in the batch's order.
 * Input: input (n), target, owned, applied (budget claim).
 * Output: found, owned, inserted, moved_from, task_id, crossed, input_tokens, output_tokens, cost_usd,
 * budget_max_tokens, budget_max_cost_usd (numbers as text), one row per callback.
 */
const ANSWER = `SELECT t.n IS NOT NULL AS found,
           o.n IS NOT NULL AS owned,
           a.n IS NOT NULL AS inserted,
           CASE WHEN a.moves THEN a.status END AS moved_from,
           CASE WHEN a.moves THEN a.task_id END AS task_id,
           COALESCE(a.crossed, false) AS crossed,
           a.input_tokens::text AS input_tokens, a.output_tokens::text AS output_tokens, a.cost_usd::text AS cost_usd,
           a.budget_max_tokens::text AS budget_max_tokens, a.budget_max_cost_usd::text AS budget_max_cost_usd
      FROM input AS i
      LEFT JOIN target AS t ON t.n = i.n
      LEFT JOIN owned AS o ON o.n = i.n
      LEFT JOIN applied AS a ON a.n = i.n
     ORDER BY i.n`;

/** The callback batch, its parts in the order each reads the ones before. One fixed text, so it is prepared once per connection. */
export const RECORD_CALLBACKS = prepared(`
    WITH ${[INPUT, AUTHENTICATE, DEDUPLICATE, STORE_ARTIFACT, usageTotals(SESSION_SPEND_CEILING_USD), BUDGET_CLAIM, MOVE_STATUS, MOVE_TASK, DAILY_USAGE].join(', ')}
    ${ANSWER}`);

/** Whether a callback's token is valid for its session, for a callback refused anyway (`authenticate` alone). */
export const AUTHENTICATES = prepared(`SELECT 1 FROM orchestrator_sessions AS s
  WHERE ${acceptsToken({ sessionId: '$1::uuid', tokenHash: '$2', expiresAfter: '$3::timestamptz', endedAfter: '$4::timestamptz', terminalStatuses: '$5', signed: '$6::boolean' })}`);
