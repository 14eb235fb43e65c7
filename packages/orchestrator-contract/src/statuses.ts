/** Statuses an orchestrator session can have (docs/contract.md §1). */
export const SESSION_STATUSES = ['pending', 'running', 'completed', 'failed', 'killed', 'cancelled'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const TERMINAL_STATUSES = ['completed', 'failed', 'killed', 'cancelled'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** The Mosaic side adds `spawning`: its row exists, the orchestrator has not acknowledged yet. */
export const TRACKED_SESSION_STATUSES = ['spawning', ...SESSION_STATUSES] as const;
export type TrackedSessionStatus = (typeof TRACKED_SESSION_STATUSES)[number];

export function isTerminalStatus(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}
