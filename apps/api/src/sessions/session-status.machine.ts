import { type TrackedSessionStatus, TRACKED_SESSION_STATUSES, isTerminalStatus } from '@mosaic/orchestrator-contract';

/**
 * The one place that decides how a session's status may change. A status only
 * moves forward (spawning → pending → running → one terminal status) and a
 * terminal status never changes again, so applying any set of reports in any
 * order ends in the same status as applying them in order.
 */
const RANK: Record<TrackedSessionStatus, number> = {
  spawning: 0,
  pending: 1,
  running: 2,
  completed: 3,
  failed: 3,
  killed: 3,
  cancelled: 3,
};

/** Whether a session in `current` may move to `next`. */
export function canTransition(current: TrackedSessionStatus, next: TrackedSessionStatus): boolean {
  return !isTerminalStatus(current) && RANK[next] > RANK[current];
}

/** The statuses a session may be in for a report of `next` to move it (used in conditional updates). */
export function statusesThatMayMoveTo(next: TrackedSessionStatus): TrackedSessionStatus[] {
  return TRACKED_SESSION_STATUSES.filter((current) => canTransition(current, next));
}

export const ACTIVE_STATUSES = TRACKED_SESSION_STATUSES.filter((status) => !isTerminalStatus(status));
