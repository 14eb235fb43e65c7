import type { CallbackEvent, SessionStatus, TaskPriority, TerminalStatus } from '@mosaic/orchestrator-contract';
import type { Origin } from '@mosaic/observability';

/** Where a session's callbacks go: kept in the store, so any node can send them. */
export interface CallbackTarget {
  url: string;
  token: string;
  /** Set when the spawn asked for signed callbacks (Standard Webhooks). */
  signingSecret?: string;
  /** The spawn request's request id and trace: they go with every callback of the session. */
  origin: Origin;
}

/** One session as the store keeps it; every node of the cluster sees the same. */
export interface StoredSession {
  id: string;
  status: SessionStatus;
  priority: TaskPriority;
  /** Set by the store's clock when the session is created. */
  createdAt: Date;
  startedAt?: Date;
  endedAt?: Date;
  exitCode?: number;
  error?: string;
  /** The node that claimed it; set with `running`. */
  node?: string;
  idempotencyKey?: string;
  callback: CallbackTarget;
  /** What the agent reads from its task file: `{ session_id, task, context }` as JSON. */
  taskJson: string;
  /**
   * The sequence of the last record of the agent's spool that is in an event: a node
   * that adopts the session goes on reading after it (0: none yet).
   */
  spoolPosition: number;
}

export interface NewSession {
  id: string;
  priority: TaskPriority;
  callback: CallbackTarget;
  taskJson: string;
  /** With a key, a second create with the same key returns the first session instead (see `create`). */
  idempotency?: { key: string; fingerprint: string };
}

export interface CreateResult {
  session: StoredSession;
  /** False when the idempotency key already named a session: `session` is that one. */
  created: boolean;
}

export interface SessionPage {
  sessions: StoredSession[];
  nextCursor: string | null;
}

export interface SessionEnd {
  status: TerminalStatus;
  exitCode?: number;
  error?: string;
}

/** An event without what the store assigns: `sequence`, `event_id`, `timestamp`, `session_id`. */
export type EventFields = Pick<CallbackEvent, 'type' | 'status' | 'data'>;

export interface NodeRecord {
  id: string;
  /** Base URL other nodes forward kill and cancel to. */
  url: string;
  capacity: number;
  activeSessions: number;
  /** The node's own signature over its id and url under CLUSTER_KEY (ClusterSigner): a record it did not write is never followed. */
  signature: string;
}

export class IdempotencyKeyReusedError extends Error {
  constructor() {
    super('this Idempotency-Key was already used with a different request body');
  }
}

export class QueueFullError extends Error {
  constructor(readonly maxQueued: number) {
    super(`the queue is full: ${maxQueued} sessions are waiting`);
  }
}

export class InvalidCursorError extends Error {}

/**
 * Everything the cluster must remember: sessions, idempotency keys, event sequences,
 * events not yet acknowledged by the API, and node leases. Two implementations
 * (PostgreSQL and Redis) behave the same; `session-store.behaviour.ts` proves it on
 * both. Every method that changes a session is atomic: two nodes calling it at once
 * cannot both succeed where only one may (claim, finish, create with a key).
 */
export interface SessionStore {
  /**
   * Creates a `pending` session. With `idempotency`: if the key already names a session,
   * returns it (`created: false`) when the fingerprint matches, and throws
   * IdempotencyKeyReusedError when it does not; nothing is written then. Throws
   * QueueFullError, writing nothing, when `maxPending` sessions are already pending.
   */
  create(session: NewSession, maxPending: number): Promise<CreateResult>;
  /** Undefined for an id no session has, whatever its text: ids come from request paths. */
  get(id: string): Promise<StoredSession | undefined>;
  /** Undefined for a key no session was created with, whatever its text: keys come from request queries. */
  withIdempotencyKey(key: string): Promise<StoredSession | undefined>;
  /**
   * Newest first (creation order); `status` filters; `cursor` continues after the page
   * that returned it, unaffected by sessions created meanwhile. A cursor the store did
   * not issue throws InvalidCursorError.
   */
  list(options: { status?: SessionStatus; limit: number; cursor?: string }): Promise<SessionPage>;
  /** 1-based queue places of those of `ids` that are pending: priority first (urgent..low), then creation order. */
  queuePositions(ids: readonly string[]): Promise<Map<string, number>>;
  countPending(): Promise<number>;
  countByStatus(): Promise<Record<SessionStatus, number>>;

  /** pending → running on `node`, startedAt now. Undefined (and no change) if the session is not pending. */
  claim(id: string, node: string): Promise<StoredSession | undefined>;
  /**
   * Makes a non-terminal session terminal, endedAt now. Undefined (and no change) if it
   * already is terminal, or if `from` is given and its status is not among them.
   */
  finish(id: string, end: SessionEnd, from?: readonly SessionStatus[]): Promise<StoredSession | undefined>;
  /** Sessions `running` on `node`. */
  runningOn(node: string): Promise<StoredSession[]>;
  /** Deletes sessions that ended before `cutoff`, with their idempotency keys and events; returns how many. */
  forgetEndedBefore(cutoff: Date): Promise<number>;

  /**
   * Numbers the event (the session's next sequence, from 1, without gaps), gives it a
   * new `event_id` and the store's timestamp, and keeps it until acknowledged. With
   * `spoolPosition`, the session's `spoolPosition` moves up to it in the same atomic
   * step: an event and the place in the spool it came from are never out of step.
   */
  appendEvent(sessionId: string, fields: EventFields, spoolPosition?: number): Promise<CallbackEvent>;
  acknowledgeEvent(sessionId: string, eventId: string): Promise<void>;
  /** The session's events not acknowledged yet, in sequence order. */
  unacknowledgedEvents(sessionId: string): Promise<CallbackEvent[]>;

  /** Adds or refreshes the node's lease: it lives `leaseMs` from now by the store's clock. */
  renewNode(node: NodeRecord, leaseMs: number): Promise<void>;
  leaveNode(id: string): Promise<void>;
  liveNodes(): Promise<NodeRecord[]>;
  /**
   * Removes every node whose lease expired and returns their ids; each id is returned to one caller only. Claims
   * nothing unless the `claimant`'s own lease has at least `minRemainingMs` left: a claim held up on its way (the
   * store was out of reach since the claimant renewed) must not judge by leases nobody could renew meanwhile.
   */
  claimExpiredNodes(claimant: string, minRemainingMs: number): Promise<string[]>;

  close(): Promise<void>;
}

/** Nest's injection token for the store the configuration chose. */
export const SESSION_STORE = Symbol('SessionStore');
