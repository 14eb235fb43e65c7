import type { SessionEvent } from '@mosaic/orchestrator-contract';
import type { OrchestratorSessionEvent } from '../database/generated/prisma/client';

/** A stored callback event on the wire (`GET /orchestrator/sessions/:id`, `events`). */
export function presentSessionEvent(
  row: Pick<OrchestratorSessionEvent, 'eventId' | 'sequence' | 'type' | 'status' | 'occurredAt' | 'data' | 'receivedAt'>,
): SessionEvent {
  return {
    event_id: row.eventId,
    sequence: row.sequence,
    type: row.type,
    status: row.status,
    timestamp: row.occurredAt.toISOString(),
    // Stored from a callback's `data`, which is always an object.
    data: row.data as SessionEvent['data'],
    received_at: row.receivedAt.toISOString(),
  };
}
