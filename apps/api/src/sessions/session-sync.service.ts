import { Injectable } from '@nestjs/common';
import { isTerminalStatus, type SessionStatusResponse } from '@mosaic/orchestrator-contract';
import { OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { OrchestratorError } from '../orchestrator-gateway/orchestrator.errors';
import { OrchestratorSessionRepository } from './session.repository';
import { LOST_ERROR, type StatusReport, type TrackedSession } from './session';

/**
 * Brings a tracked session in line with what the orchestrator says about it,
 * through the same forward-only state machine as callbacks. Used by operator
 * refreshes, kills and the reconciliation loop alike.
 */
@Injectable()
export class SessionSyncService {
  constructor(
    private readonly client: OrchestratorClient,
    private readonly sessions: OrchestratorSessionRepository,
  ) {}

  /** Asks the orchestrator; a `404` makes the session `failed` (`lost`). Other failures are thrown. */
  async refresh(session: TrackedSession): Promise<TrackedSession> {
    if (session.orchestratorSessionId === null) return session;
    try {
      const answer = await this.client.getStatus(session.orchestratorSessionId);
      return await this.sessions.applyStatus(session.id, reportFrom(answer));
    } catch (error) {
      if (error instanceof OrchestratorError && error.failure === 'not_found') {
        return this.sessions.applyStatus(session.id, { status: 'failed', at: new Date(), error: LOST_ERROR });
      }
      throw error;
    }
  }

  /**
   * The orchestrator session this session's spawn started, though the API never
   * heard the answer; undefined when it started none. The dispatcher's
   * Idempotency-Key is the session's id.
   */
  findSpawned(session: TrackedSession): Promise<SessionStatusResponse | undefined> {
    return this.client.findSpawned(session.id);
  }

  /**
   * Kills the session's agent; idempotent, and a session already terminal is
   * left as it is. The kill is recorded in the event log with `actor`, who asked.
   */
  async kill(session: TrackedSession, actor: string): Promise<TrackedSession> {
    if (isTerminalStatus(session.status)) return session;
    if (session.orchestratorSessionId === null) {
      return this.sessions.applyStatus(
        session.id,
        { status: 'killed', at: new Date(), error: 'killed before the orchestrator acknowledged the spawn' },
        { actor },
      );
    }
    try {
      const answer = await this.client.kill(session.orchestratorSessionId);
      return await this.sessions.applyStatus(session.id, { status: answer.status, at: new Date() }, { actor });
    } catch (error) {
      if (error instanceof OrchestratorError && error.failure === 'not_found') {
        return this.sessions.applyStatus(session.id, { status: 'failed', at: new Date(), error: LOST_ERROR });
      }
      throw error;
    }
  }
}

function reportFrom(answer: SessionStatusResponse): StatusReport {
  const at = answer.ended_at ?? answer.started_at ?? answer.created_at;
  return {
    status: answer.status,
    at: new Date(at),
    ...(answer.exit_code === undefined ? {} : { exitCode: answer.exit_code }),
    ...(answer.error === undefined ? {} : { error: answer.error }),
  };
}
