import { type UsageData, usageDataSchema } from '@mosaic/orchestrator-contract';
import type { LogLineDropReason } from '../metrics/orchestrator-metrics';
import type { AgentMessage } from './agent-output';
import { TokenBucket } from './token-bucket';

type ProtocolMessage = Exclude<AgentMessage, { type: 'log' }>;
type UsageMessage = AgentMessage & { type: 'usage' };

export interface OutputThrottleOptions {
  /** The rate each of log lines and protocol messages (progress, result and usage) is held to. */
  linesPerSecond: number;
  /** Whether the session's callback queue takes more (CallbackDelivery.hasRoom). */
  hasRoom: () => boolean;
  send: (message: AgentMessage) => void;
  onLogLineDropped: (reason: LogLineDropReason) => void;
  now?: () => number;
}

/** How soon a held-back message tries again for a token or for room in the queue. */
export const RETRY_HELD_BACK_MS = 250;

/** How many models' usage is held back apart: an agent naming a new model on every line must not grow the throttle without bound. */
export const MAX_HELD_BACK_MODELS = 8;

const USAGE_COUNTS = ['input_tokens', 'output_tokens', 'cost_usd'] as const;

/**
 * Decides which of an agent's messages become callbacks, so that neither a chatty
 * agent nor an unreachable API can make a session's callbacks grow without bound:
 *
 * - a log line over the rate, or while the callback queue is full, is dropped and
 *   counted; the count goes out as a log line of its own with the next log line
 *   that passes (or alone, when the agent has gone quiet);
 * - a progress or result message over its rate, or while the queue is full, is
 *   held back, and a newer one of its kind replaces it: the latest goes out when
 *   there is a token and room, and at the latest when the session ends;
 * - a usage message is a delta, so one held back is added to instead: each model's
 *   usage is summed apart (up to MAX_HELD_BACK_MODELS models; any further model's
 *   is added to the usage that names none), so that what is sent adds up to
 *   exactly what the agent reported, per model. A report that would take a sum past
 *   what one report may carry (USAGE_LIMITS, far more than an agent spends between
 *   two sends) would be refused by the API: it goes out as a log line instead,
 *   uncounted, like a usage line the API would refuse.
 *
 * Status changes are not the throttle's: the supervisor always sends them.
 */
export class OutputThrottle {
  private readonly logBucket: TokenBucket;
  private readonly messageBucket: TokenBucket;
  /** The held-back messages, oldest first, by heldBackKey. */
  private readonly heldBack = new Map<string, ProtocolMessage>();
  private readonly dropped: Record<LogLineDropReason, number> = { rate_limit: 0, queue_full: 0 };
  private retryTimer?: NodeJS.Timeout;
  private ended = false;

  constructor(private readonly options: OutputThrottleOptions) {
    this.logBucket = new TokenBucket(options.linesPerSecond, options.now);
    this.messageBucket = new TokenBucket(options.linesPerSecond, options.now);
  }

  offer(message: AgentMessage): void {
    if (this.ended) return;
    if (message.type === 'log') {
      this.sendHeldBack();
      this.offerLogLine(message);
    } else if (message.type === 'usage') {
      this.holdBackUsage(message);
      this.sendHeldBack();
    } else {
      this.heldBack.delete(message.type);
      this.heldBack.set(message.type, message);
      this.sendHeldBack();
    }
    this.scheduleRetry();
  }

  /**
   * Sends what is held back, whatever the rate and the room: the session is
   * ending, or this node lets go of it, and that is at most a dropped-lines count, one progress, one result
   * and the usage of a few models. Takes nothing more afterwards.
   */
  end(): void {
    clearTimeout(this.retryTimer);
    this.ended = true;
    this.reportDroppedLogLines();
    for (const message of this.heldBack.values()) this.options.send(message);
    this.heldBack.clear();
  }

  /** A held-back sum keeps its place: it has waited since its first report. */
  private holdBackUsage(message: UsageMessage): void {
    const key = heldBackKey(message);
    const held = this.heldBack.get(key);
    if (held?.type === 'usage') {
      const sum = addUsage(held.data, message.data);
      if (usageDataSchema.safeParse(sum).success) this.heldBack.set(key, { type: 'usage', data: sum, seq: message.seq });
      else this.refuseUsage(message);
    } else if (message.data.model !== undefined && this.heldBackModels() >= MAX_HELD_BACK_MODELS) {
      const { model: _, ...counts } = message.data;
      this.holdBackUsage({ ...message, data: counts });
    } else {
      this.heldBack.set(key, message);
    }
  }

  private refuseUsage(message: UsageMessage): void {
    const line = `orchestrator: usage not counted, as with the usage not sent yet it would exceed what one report may carry: ${JSON.stringify(message.data)}`;
    this.offerLogLine({ type: 'log', data: { stream: 'stderr', line }, seq: message.seq });
  }

  private heldBackModels(): number {
    return [...this.heldBack.values()].filter((held) => held.type === 'usage' && held.data.model !== undefined).length;
  }

  private offerLogLine(message: AgentMessage & { type: 'log' }): void {
    if (!this.options.hasRoom()) {
      this.drop('queue_full');
    } else if (!this.logBucket.tryTake()) {
      this.drop('rate_limit');
    } else {
      this.reportDroppedLogLines();
      this.options.send(message);
    }
  }

  private drop(reason: LogLineDropReason): void {
    this.dropped[reason]++;
    this.options.onLogLineDropped(reason);
  }

  private sendHeldBack(): void {
    for (const [type, message] of this.heldBack) {
      if (!this.options.hasRoom() || !this.messageBucket.tryTake()) return;
      this.heldBack.delete(type);
      this.options.send(message);
    }
  }

  private retry(): void {
    this.retryTimer = undefined;
    this.sendHeldBack();
    // A count whose agent went quiet goes out alone, on a token of its own.
    if (this.droppedCount() > 0 && this.options.hasRoom() && this.logBucket.tryTake()) this.reportDroppedLogLines();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || (this.heldBack.size === 0 && this.droppedCount() === 0)) return;
    this.retryTimer = setTimeout(() => this.retry(), RETRY_HELD_BACK_MS);
    this.retryTimer.unref();
  }

  private droppedCount(): number {
    return this.dropped.rate_limit + this.dropped.queue_full;
  }

  private reportDroppedLogLines(): void {
    const count = this.droppedCount();
    if (count === 0) return;
    const line =
      `orchestrator: ${count} log line(s) dropped (${this.dropped.rate_limit} over the limit of ${this.options.linesPerSecond} a second, ` +
      `${this.dropped.queue_full} while the session's callbacks could not be delivered)`;
    this.dropped.rate_limit = 0;
    this.dropped.queue_full = 0;
    this.options.send({ type: 'log', data: { stream: 'stderr', line } });
  }
}

/** What a held-back message is kept under: the latest progress and result replace theirs, usage is summed per model. */
function heldBackKey(message: ProtocolMessage): string {
  return message.type === 'usage' ? `usage ${message.data.model ?? ''}` : message.type;
}

function addUsage(held: UsageData, more: UsageData): UsageData {
  const sum = { ...held };
  for (const count of USAGE_COUNTS) if (more[count] !== undefined) sum[count] = (held[count] ?? 0) + more[count];
  return sum;
}
