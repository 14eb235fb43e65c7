import { presentSession, type SessionResponse } from '../sessions/session.presenter';
import type { TrackedSession } from '../sessions/session';

/** The `202` of a dispatch: the task and the session the dispatch started. */
export interface DispatchResponse {
  readonly task_id: string;
  readonly session: SessionResponse;
}

export function presentDispatch(taskId: string, session: TrackedSession): DispatchResponse {
  return { task_id: taskId, session: presentSession(session) };
}
