import type { Session, TrackedSessionStatus } from '@mosaic/orchestrator-contract';

/** How far along a status is: a session only ever moves forward (docs/contract.md §1). */
const STAGE: Record<TrackedSessionStatus, number> = {
  spawning: 0,
  pending: 1,
  running: 2,
  completed: 3,
  failed: 3,
  killed: 3,
  cancelled: 3,
};

/**
 * `incoming` (a fresher read of the session) over `current`, except for a status
 * behind the one shown: the event stream can tell of a status before a read of
 * the session reflects it, and such a read must not take the page back.
 */
export function laterState(current: Session | null, incoming: Session): Session {
  if (current === null || STAGE[incoming.status] >= STAGE[current.status]) return incoming;
  return { ...incoming, status: current.status };
}
