import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { isTerminalStatus } from '@mosaic/orchestrator-contract';
import { CallbackSigning } from '../sessions/callback-signing.service';
import { CallbackTokenService } from '../sessions/callback-token.service';
import { ApiConfig } from '../config/api-config';
import { AppError } from '@mosaic/http-kit';
import { BudgetRepository } from '../budgets/budget.repository';
import { OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import type { Actor, TrackedSession } from '../sessions/session';
import { TaskContextSerializer } from '../orchestrator-gateway/task-context.serializer';

/**
 * Hands a task to the orchestrator. The session row exists (in `spawning`)
 * before the spawn call and records its outcome after it, so that a crash or a
 * failed call at any point leaves a row that says what happened.
 */
@Injectable()
export class TaskDispatcherService {
  private readonly logger = new Logger(TaskDispatcherService.name);

  constructor(
    private readonly config: ApiConfig,
    private readonly sessions: OrchestratorSessionRepository,
    private readonly tokens: CallbackTokenService,
    private readonly signing: CallbackSigning,
    private readonly serializer: TaskContextSerializer,
    private readonly client: OrchestratorClient,
    private readonly budgets: BudgetRepository,
  ) {}

  /** New work stops once the day's (UTC) cost reaches MOSAIC_DAILY_COST_LIMIT_USD; running sessions go on. */
  private async refuseOverDailyLimit(): Promise<void> {
    const limit = this.config.budgets.dailyCostLimitUsd;
    if (limit === undefined) return;
    const { costUsd } = await this.budgets.spentToday();
    if (costUsd >= limit) {
      throw new AppError(
        'daily_budget_exhausted',
        `today's (UTC) agent cost, ${costUsd} USD, has reached MOSAIC_DAILY_COST_LIMIT_USD (${limit} USD): dispatches resume tomorrow, or once the administrator resets the day`,
      );
    }
  }

  /** `actor` is the operator who asked (recorded in the session's event log); `requestedBy` what the request said. */
  async dispatch(taskId: string, { requestedBy, actor }: { requestedBy: string | null; actor: Actor }): Promise<TrackedSession> {
    await this.refuseOverDailyLimit();
    const callbackToken = this.tokens.issue();
    // Answers not_found for a task that does not exist, and returns the task to serialize.
    const { session, task } = await this.sessions.createSpawning({
      id: randomUUID(),
      taskId,
      requestedBy,
      actor,
      callbacksSigned: true,
      callbackTokenHash: callbackToken.hash,
      callbackTokenExpiresAt: callbackToken.expiresAt,
    });
    const callbackUrl = this.config.callbackUrl(session.id);

    try {
      const payload = this.serializer.serialize(task, {
        sessionId: session.id,
        attempt: session.attempt,
        requestedBy,
        callbackUrl,
      });
      // The session id is the idempotency key: a retried spawn finds the session it created.
      const answer = await this.client.spawn(
        {
          ...payload,
          callback_url: callbackUrl,
          callback_token: callbackToken.token,
          callback_signing_secret: this.signing.secretFor(session.id),
          priority: task.priority,
        },
        session.id,
      );
      // `pending` (v2): queued by the orchestrator until a node has room.
      const spawned = await this.sessions.recordSpawned(session.id, answer.session_id, {
        status: answer.status,
        at: new Date(answer.created_at),
        node: answer.node,
        queuePosition: answer.queue_position,
      });
      // The session ended while the spawn was in flight (an operator's kill, or reconciliation giving up on a
      // spawn that took too long to confirm): the agent must not outlive it.
      if (isTerminalStatus(spawned.status)) await this.client.kill(answer.session_id);
      return spawned;
    } catch (error) {
      if (error instanceof AppError) {
        // Ending the session frees the task for another dispatch; the caller gets the typed error.
        await this.sessions.applyStatus(session.id, { status: 'failed', at: new Date(), error: `spawn failed: ${error.message}` });
        this.logger.warn(`dispatch of task ${taskId} (session ${session.id}) failed: ${error.message}`);
      }
      throw error;
    }
  }
}
