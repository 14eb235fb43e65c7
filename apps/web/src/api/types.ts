/** The wire shapes this page reads and sends (docs/contract.md §4), only the fields it uses. */

export const SESSION_STATUSES = ['spawning', 'pending', 'running', 'completed', 'failed', 'killed', 'cancelled'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

const ACTIVE_STATUSES: readonly string[] = ['spawning', 'pending', 'running'];

/** Whether a session can still be cancelled or killed. */
export function isActive(status: SessionStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

export interface Usage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cost_usd: number;
}

export interface Session {
  readonly id: string;
  readonly task_id: string;
  readonly status: SessionStatus;
  /** Older APIs do not send it. */
  readonly task_title?: string | null;
  readonly node?: string | null;
  readonly queue_position?: number | null;
  readonly usage?: Usage | null;
  readonly error: string | null;
  readonly exit_code?: number | null;
  readonly last_sequence: number;
  readonly started_at?: string | null;
  readonly ended_at?: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface SessionPage {
  readonly sessions: Session[];
  readonly next_cursor: string | null;
}

export type SessionEventType = 'status' | 'progress' | 'log' | 'result' | 'usage';

export interface SessionEvent {
  readonly event_id: string;
  readonly sequence: number;
  readonly type: SessionEventType;
  readonly status: SessionStatus | null;
  readonly timestamp: string;
  readonly data: unknown;
  readonly received_at: string;
}

export interface SessionWithEvents extends Session {
  readonly events: SessionEvent[];
  readonly events_truncated?: boolean;
}

export const TASK_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

export interface NewTask {
  readonly title: string;
  readonly description?: string;
  readonly priority: TaskPriority;
}

export interface Task {
  readonly id: string;
  readonly title: string;
}

export interface DispatchAnswer {
  readonly task_id: string;
  readonly session: Session;
}

/** `GET /health/orchestrator`'s terminus report, as far as the banner reads it. */
export interface OrchestratorHealth {
  readonly details?: {
    readonly orchestrator?: {
      readonly status: 'up' | 'down';
      readonly reason?: string;
      readonly message?: string;
      readonly circuit?: 'closed' | 'open' | 'half_open';
      readonly queued_sessions?: number;
      readonly capacity?: number;
      readonly active_sessions?: number;
    };
  };
}
