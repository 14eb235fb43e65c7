import type { SessionStatusResponse } from '@mosaic/orchestrator-contract';
import type { StoredSession } from '../store/session-store';

/** A stored session as the contract's status object; `queuePosition` only while it is pending. */
export function toStatusResponse(session: StoredSession, queuePosition?: number): SessionStatusResponse {
  return {
    session_id: session.id,
    status: session.status,
    created_at: session.createdAt.toISOString(),
    ...(session.startedAt && { started_at: session.startedAt.toISOString() }),
    ...(session.endedAt && { ended_at: session.endedAt.toISOString() }),
    ...(session.exitCode !== undefined && { exit_code: session.exitCode }),
    ...(session.error !== undefined && { error: session.error }),
    ...(session.node !== undefined && { node: session.node }),
    ...(session.status === 'pending' && queuePosition !== undefined && { queue_position: queuePosition }),
  };
}
