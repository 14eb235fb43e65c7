import type { Dispatch } from '@mosaic/orchestrator-contract';
import { presentSession } from '../sessions/session.presenter';
import type { TrackedSession } from '../sessions/session';

/** The `202` of a dispatch: the task and the session the dispatch started. */
export function presentDispatch(taskId: string, session: TrackedSession): Dispatch {
  return { task_id: taskId, session: presentSession(session) };
}
