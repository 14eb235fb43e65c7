import { Injectable } from '@nestjs/common';
import { type CallbackEvent, callbackEventSchema, validate } from '@mosaic/orchestrator-contract';
import { AppError } from '../http/app-error';
import type { StatusReport } from '../orchestrator-gateway/session';
import { invalidCallbackToken } from './callback-token.guard';
import { type CallbackTarget, type IncomingSessionEvent, SessionEventRepository } from './session-event.repository';

/** The `202` body: the event is safe with the API; `duplicate` says it had been stored before. */
export interface CallbackAck {
  readonly accepted: true;
  readonly duplicate: boolean;
}

/**
 * Takes in the orchestrator's callback events. Each is stored once, whatever
 * the number of redeliveries; status-bearing events move the session (and its
 * task) only forward, so events may arrive in any order and late ones after a
 * terminal status are kept without changing it.
 */
@Injectable()
export class CallbackIngestionService {
  constructor(private readonly events: SessionEventRepository) {}

  async ingest(target: CallbackTarget, body: unknown): Promise<CallbackAck> {
    const parsed = validate(callbackEventSchema, body);
    if (!parsed.ok) throw new AppError('bad_request', parsed.message);
    const event = parsed.value;
    if (target.orchestratorSessionId !== null && target.orchestratorSessionId !== event.session_id) {
      throw foreignSession();
    }
    const outcome = await this.events.record(target.sessionId, incomingEvent(event), statusReportOf(event, new Date()));
    switch (outcome) {
      case 'stored':
        return { accepted: true, duplicate: false };
      case 'duplicate':
        return { accepted: true, duplicate: true };
      case 'foreign':
        throw foreignSession();
      case 'gone':
        throw invalidCallbackToken();
    }
  }
}

/**
 * The status change a callback event reports, if any: only `status` and
 * `result` events move a session. It takes effect at the orchestrator's time
 * of the change, so `started_at` and `ended_at` say when things happened, but
 * never later than the API received it: an orchestrator clock running fast
 * must not push `ended_at`, and with it the end of the token's grace, ahead.
 */
export function statusReportOf(event: CallbackEvent, receivedAt: Date): StatusReport | undefined {
  if (event.type !== 'status' && event.type !== 'result') return undefined;
  return {
    status: event.status,
    at: new Date(Math.min(Date.parse(event.timestamp), receivedAt.getTime())),
    ...(event.data.exit_code === undefined ? {} : { exitCode: event.data.exit_code }),
    ...(event.data.error === undefined ? {} : { error: event.data.error }),
  };
}

function incomingEvent(event: CallbackEvent): IncomingSessionEvent {
  return {
    eventId: event.event_id,
    orchestratorSessionId: event.session_id,
    sequence: event.sequence,
    type: event.type,
    status: event.status ?? null,
    occurredAt: event.timestamp,
    data: event.data,
  };
}

function foreignSession(): AppError {
  return new AppError('bad_request', 'session_id: does not name the orchestrator session this callback URL belongs to');
}
