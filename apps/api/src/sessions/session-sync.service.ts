import { Injectable } from '@nestjs/common';
import { isTerminalStatus, type CancelRequest, type KillResponse, type SessionStatusResponse } from '@mosaic/orchestrator-contract';
import { OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { OrchestratorError } from '../orchestrator-gateway/orchestrator.errors';
import { OrchestratorSessionRepository } from './session.repository';
import { type Actor, LOST_ERROR, type StatusReport, type TrackedSession } from './session';

/**
 * Brings a tracked session in line with what the orchestrator says about it,
 * through the same forward-only state machine as callbacks. Used by operator
 * refreshes, kills, cancels and the reconciliation loop alike.
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
  kill(session: TrackedSession, actor: Actor): Promise<TrackedSession> {
    return this.stop(session, actor, {
      unconfirmed: { status: 'killed', error: 'killed before the orchestrator acknowledged the spawn' },
      ask: (orchestratorSessionId) => this.client.kill(orchestratorSessionId),
    });
  }

  /**
   * Cancels the session gracefully (contract v2): the orchestrator answers once
   * the agent has stopped, within the grace, or been killed after it. Otherwise
   * as `kill`.
   */
  cancel(session: TrackedSession, actor: Actor, request: CancelRequest, detail?: Record<string, unknown>): Promise<TrackedSession> {
    return this.stop(session, actor, {
      ...(detail === undefined ? {} : { detail }),
      unconfirmed: { status: 'cancelled', error: 'cancelled before the orchestrator acknowledged the spawn' },
      ask: (orchestratorSessionId) => this.client.cancel(orchestratorSessionId, request),
    });
  }

  /**
   * Ends the session through the orchestrator, recording the terminal status it
   * answers. A session whose spawn is unacknowledged ends here at once: the
   * dispatcher stops its agent when the spawn answer comes.
   */
  private async stop(session: TrackedSession, actor: Actor, how: StopRequest): Promise<TrackedSession> {
    if (isTerminalStatus(session.status)) return session;
    if (session.orchestratorSessionId === null) {
      return this.sessions.applyStatus(
        session.id,
        { ...how.unconfirmed, at: new Date() },
        { actor, ...(how.detail === undefined ? {} : { detail: how.detail }) },
      );
    }
    try {
      const answer = await how.ask(session.orchestratorSessionId);
      return await this.sessions.applyStatus(
        session.id,
        { status: answer.status, at: new Date() },
        { actor, ...(how.detail === undefined ? {} : { detail: how.detail }) },
      );
    } catch (error) {
      if (error instanceof OrchestratorError && error.failure === 'not_found') {
        return this.sessions.applyStatus(session.id, { status: 'failed', at: new Date(), error: LOST_ERROR });
      }
      throw error;
    }
  }
}

interface StopRequest {
  /** The status and error of a session stopped before the orchestrator acknowledged its spawn. */
  readonly unconfirmed: { readonly status: 'killed' | 'cancelled'; readonly error: string };
  readonly ask: (orchestratorSessionId: string) => Promise<KillResponse>;
  /** More for the event log's record of the stop, beside its actor. */
  readonly detail?: Record<string, unknown>;
}

function reportFrom(answer: SessionStatusResponse): StatusReport {
  const at = answer.ended_at ?? answer.started_at ?? answer.created_at;
  return {
    status: answer.status,
    at: new Date(at),
    ...(answer.exit_code === undefined ? {} : { exitCode: answer.exit_code }),
    ...(answer.error === undefined ? {} : { error: answer.error }),
    ...(answer.node === undefined ? {} : { node: answer.node }),
    ...(answer.queue_position === undefined ? {} : { queuePosition: answer.queue_position }),
  };
}
