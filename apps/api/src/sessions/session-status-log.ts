import { Logger } from '@nestjs/common';
import type { TrackedSessionStatus } from '@mosaic/orchestrator-contract';

export interface SessionStatusChange {
  readonly sessionId: string;
  readonly taskId: string;
  /** Unknown where the statement that moved the session does not read it first. */
  readonly from?: TrackedSessionStatus;
  readonly to: TrackedSessionStatus;
  readonly error?: string | null;
}

const logger = new Logger('SessionStatus');

/** The one log line of a session's status change; every place that moves a session calls it once the change is made. */
export function logSessionStatusChange(change: SessionStatusChange): void {
  logger.log({
    msg: 'session status changed',
    session_id: change.sessionId,
    task_id: change.taskId,
    ...(change.from === undefined ? {} : { from: change.from }),
    to: change.to,
    ...(typeof change.error === 'string' ? { error: change.error } : {}),
  });
}
