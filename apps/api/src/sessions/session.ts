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
