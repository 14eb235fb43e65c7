import type { SessionStatus, SessionStatusResponse } from '@mosaic/orchestrator-contract';
import type { CallbackTarget } from '../callbacks/callback-delivery';

export interface SessionInit {
  id: string;
  callback: CallbackTarget;
  /** The spawn's Idempotency-Key, forgotten with the session. */
  idempotencyKey?: string;
}

/** One session's state as the API sees it; what runs it lives in SessionSupervisor. */
export class Session {
  readonly id: string;
  readonly callback: CallbackTarget;
  readonly idempotencyKey?: string;
  /**
   * Set when the session is registered, the moment it becomes visible, which is also
   * when its agent has started: creation order, list order and `created_at` then agree.
   */
  createdAt = new Date();
  status: SessionStatus = 'pending';
  startedAt?: Date;
  /** Set once, when the session reaches its terminal status. */
  endedAt?: Date;
  exitCode?: number;
  error?: string;

  constructor(init: SessionInit) {
    this.id = init.id;
    this.callback = init.callback;
    this.idempotencyKey = init.idempotencyKey;
  }

  toStatusResponse(): SessionStatusResponse {
    return {
      session_id: this.id,
      status: this.status,
      created_at: this.createdAt.toISOString(),
      ...(this.startedAt && { started_at: this.startedAt.toISOString() }),
      ...(this.endedAt && { ended_at: this.endedAt.toISOString() }),
      ...(this.exitCode !== undefined && { exit_code: this.exitCode }),
      ...(this.error !== undefined && { error: this.error }),
    };
  }
}
