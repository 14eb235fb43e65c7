import type { Session } from '@mosaic/orchestrator-contract';
import type { TrackedSession } from './session';

/** A tracked session on the wire (docs/contract.md §4), snake_case. */
export function presentSession(session: TrackedSession): Session {
  return {
    id: session.id,
    task_id: session.taskId,
    task_title: session.taskTitle,
    orchestrator_session_id: session.orchestratorSessionId,
    status: session.status,
    attempt: session.attempt,
    requested_by: session.requestedBy,
    last_sequence: session.lastSequence,
    error: session.error,
    exit_code: session.exitCode,
    node: session.node,
    queue_position: session.queuePosition,
    usage: { input_tokens: session.usage.inputTokens, output_tokens: session.usage.outputTokens, cost_usd: session.usage.costUsd },
    started_at: session.startedAt?.toISOString() ?? null,
    ended_at: session.endedAt?.toISOString() ?? null,
    last_event_at: session.lastEventAt?.toISOString() ?? null,
    created_at: session.createdAt.toISOString(),
    updated_at: session.updatedAt.toISOString(),
  };
}
