import type { OrchestratorSessionEvent } from '../database/generated/prisma/client';

/** A stored callback event on the wire (`GET /orchestrator/sessions/:id`, `events`). */
export interface SessionEventResponse {
  readonly event_id: string;
  readonly sequence: number;
  readonly type: OrchestratorSessionEvent['type'];
  /** `null` for progress and log events that carried none. */
  readonly status: OrchestratorSessionEvent['status'];
  /** When the orchestrator says it happened. */
  readonly timestamp: string;
  readonly data: unknown;
  /** When the API stored it. */
  readonly received_at: string;
}

export function presentSessionEvent(row: Pick<OrchestratorSessionEvent, 'eventId' | 'sequence' | 'type' | 'status' | 'occurredAt' | 'data' | 'receivedAt'>): SessionEventResponse {
  return {
    event_id: row.eventId,
    sequence: row.sequence,
    type: row.type,
    status: row.status,
    timestamp: row.occurredAt.toISOString(),
    data: row.data,
    received_at: row.receivedAt.toISOString(),
  };
}
