import type { TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import type { Usage } from './budget';

/** The `error` of a session the orchestrator no longer knows (contract: lost sessions end `failed`). */
export const LOST_ERROR = 'lost';

/** The `error` of a session failed because the orchestrator never acknowledged its spawn. */
export const SPAWN_UNCONFIRMED_ERROR = 'spawn_unconfirmed';

/** A session the API tracks: which orchestrator session serves which task, and how far it got. */
export interface TrackedSession {
  readonly id: string;
  readonly taskId: string;
  /** Its task's title, for lists that show sessions without their tasks. */
  readonly taskTitle: string;
  readonly orchestratorSessionId: string | null;
  readonly status: TrackedSessionStatus;
  readonly attempt: number;
  readonly requestedBy: string | null;
  readonly lastSequence: number;
  readonly error: string | null;
  readonly exitCode: number | null;
  /** The orchestrator node that runs or ran it, as last reported. */
  readonly node: string | null;
  /** Its 1-based place in the orchestrator's queue while `pending`, as last reported. */
  readonly queuePosition: number | null;
  /** What it spent: the sums of its stored usage events. */
  readonly usage: Usage;
  readonly startedAt: Date | null;
  readonly endedAt: Date | null;
  readonly lastEventAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/**
 * Who asked for what the event log records (a dispatch, a kill, a cancel): an
 * operator (by its key's name and id; the administrator's token has no key) or
 * the API itself (`budget`).
 */
export interface Actor {
  readonly name: string;
  readonly keyId: string | null;
}

/** The actor's part of an audit record's `data`: `actor` its name, and `actor_key_id` for an operator key. */
export function auditOf(actor: Actor): { actor: string; actor_key_id?: string } {
  return actor.keyId === null ? { actor: actor.name } : { actor: actor.name, actor_key_id: actor.keyId };
}

/** A status report from any source (spawn answer, callback, status poll, kill or cancel answer). */
export interface StatusReport {
  readonly status: TrackedSessionStatus;
  readonly at: Date;
  readonly error?: string | null;
  readonly exitCode?: number | null;
  /** The node that runs the session; a report without one leaves the recorded node as it is. */
  readonly node?: string | null;
  /** Taken only from a `pending` report about a session still pending. */
  readonly queuePosition?: number | null;
}

export interface SessionPage {
  readonly sessions: TrackedSession[];
  readonly nextCursor: string | null;
}
