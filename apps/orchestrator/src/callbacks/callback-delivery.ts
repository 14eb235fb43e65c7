import { Inject, Injectable, Logger } from '@nestjs/common';
import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { parseRetryAfter } from '@mosaic/http-kit';
import { requestTracing } from '@mosaic/observability';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { type DeliveryOutcome, OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import { SESSION_STORE, type CallbackTarget, type SessionStore } from '../store/session-store';
import { CallbackHttpError, callbackRetryPolicy, isRetryableCallbackError } from './callback-retry';

/**
 * How many bytes of callbacks one session may have waiting (queued, or being
 * retried) before its supervisor holds back what it can: log lines are then
 * dropped and counted, progress and result coalesced to the latest of each
 * (OutputThrottle). Status changes always go in, so the queue may pass the
 * bound by a few events: the line that crossed it with its dropped-lines count,
 * the last progress, result and count at the end, and the status changes.
 * 1 MiB is about 3 minutes of an agent printing the default 20 lines a second
 * of ~150 characters (~320 bytes a callback), most of the 5 minutes one event
 * is retried, and bounds the default 64 sessions to 64 MiB while the API is down.
 */
export const CALLBACK_QUEUE_MAX_BYTES = 1024 * 1024;

/** An event with its body, serialized once: its size counts against the bound and every attempt sends the same bytes. */
interface QueuedCallback {
  readonly event: CallbackEvent;
  readonly body: string;
  readonly bytes: number;
}

interface SessionQueue {
  target: CallbackTarget;
  events: QueuedCallback[];
  /** Bytes of the events queued and of the one being delivered. */
  bytes: number;
  /** Set once the receiver answered 401: the token is no good, so nothing more is sent for this session. */
  revoked: boolean;
  /** Set when the session's last event has been queued; the queue is dropped once it has been worked off. */
  closed: boolean;
  worker?: Promise<void>;
}

/**
 * Sends callback events, one session at a time per queue: a session's events leave in
 * `sequence` order and the next one is sent only when the previous one was accepted,
 * dropped or given up on. Sessions do not wait for one another.
 */
@Injectable()
export class CallbackDelivery {
  private readonly logger = new Logger(CallbackDelivery.name);
  private readonly queues = new Map<string, SessionQueue>();
  private readonly stopController = new AbortController();

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly metrics: OrchestratorMetrics,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
  ) {}

  /**
   * Queues an event; `last` marks the session's final event. It never refuses:
   * what may be held back is held back by the caller, asking `hasRoom` first.
   */
  enqueue(target: CallbackTarget, event: CallbackEvent, last = false): void {
    let queue = this.queues.get(event.session_id);
    if (!queue) {
      queue = { target, events: [], bytes: 0, revoked: false, closed: false };
      this.queues.set(event.session_id, queue);
    }
    if (!queue.revoked && !this.stopController.signal.aborted) {
      const body = JSON.stringify(event);
      const queued = { event, body, bytes: Buffer.byteLength(body) };
      queue.events.push(queued);
      this.count(queue, queued.bytes);
    }
    queue.closed ||= last;
    this.ensureWorker(event.session_id, queue);
  }

  /** Whether the session's waiting callbacks, with `comingBytes` on their way here, are under CALLBACK_QUEUE_MAX_BYTES. */
  hasRoom(sessionId: string, comingBytes = 0): boolean {
    return (this.queues.get(sessionId)?.bytes ?? 0) + comingBytes < CALLBACK_QUEUE_MAX_BYTES;
  }

  /**
   * Resolves once every event queued for the session has been dealt with (delivered, refused or given up on): true;
   * or once delivery stopped first: false, and what is left stays unacknowledged in the store for the next life.
   */
  async whenDealtWith(sessionId: string): Promise<boolean> {
    for (let queue = this.queues.get(sessionId); queue?.worker; queue = this.queues.get(sessionId)) await queue.worker;
    return !this.stopController.signal.aborted;
  }

  /** Waits until every queued event has been dealt with, or `timeoutMs` passed; then stops all delivery. */
  async drainAndStop(timeoutMs: number): Promise<void> {
    await Promise.race([this.idle(), sleep(timeoutMs, undefined, { ref: false })]);
    this.stopController.abort();
    const pending = [...this.queues.values()].reduce((count, queue) => count + queue.events.length, 0);
    if (pending > 0) this.logger.warn(`stopped with ${pending} callback event(s) undelivered`);
  }

  private async idle(): Promise<void> {
    for (;;) {
      const workers = [...this.queues.values()].flatMap((queue) => (queue.worker ? [queue.worker] : []));
      if (workers.length === 0) return;
      await Promise.all(workers);
    }
  }

  private ensureWorker(sessionId: string, queue: SessionQueue): void {
    if (queue.worker) return;
    const stopped = () => this.stopController.signal.aborted;
    queue.worker = this.work(queue).finally(() => {
      queue.worker = undefined;
      // An event queued while the worker was finishing found it still set and did not start a new one.
      if (queue.events.length > 0 && !stopped()) this.ensureWorker(sessionId, queue);
      else if (queue.closed || stopped()) this.queues.delete(sessionId);
    });
  }

  private async work(queue: SessionQueue): Promise<void> {
    for (let queued = queue.events.shift(); queued && !this.stopController.signal.aborted; queued = queue.events.shift()) {
      const dealtWith = await this.deliver(queue, queued);
      this.count(queue, -queued.bytes);
      if (dealtWith) await this.acknowledge(queued.event);
    }
  }

  private count(queue: SessionQueue, bytes: number): void {
    queue.bytes += bytes;
    this.metrics.callbackQueueBytes(bytes);
  }

  /** Delivers the event; false when the shutdown cut it short, so that it is not acknowledged and the next life sends it again. */
  private async deliver(queue: SessionQueue, { event, body }: QueuedCallback): Promise<boolean> {
    const policy = callbackRetryPolicy({ maxRetryMs: this.config.callbackRetryMaxMs, isStopped: () => this.stopController.signal.aborted });
    policy.onRetry(({ delay, attempt, ...reason }) => {
      const cause = 'error' in reason ? reason.error.message : 'unexpected result';
      this.logger.warn(`callback ${describe(event)} attempt ${attempt} failed (${cause}); retrying in ${delay} ms`);
    });
    try {
      await policy.execute(() => this.post(queue.target, event, body));
      this.metrics.callbackDelivery(event.type, 'delivered');
    } catch (error) {
      // Aborted, or not retried, because this process is stopping: not given up on. The receiver may have stored it
      // already; it takes a redelivery of the same event_id as a duplicate.
      if (this.stopController.signal.aborted && isRetryableCallbackError(error)) {
        this.logger.warn(`callback ${describe(event)} cut short by the shutdown: left for the next life of this node`);
        return false;
      }
      this.metrics.callbackDelivery(event.type, deliveryFailure(error));
      if (error instanceof CallbackHttpError && error.status === 401) {
        queue.revoked = true;
        this.count(queue, -queue.events.reduce((bytes, queued) => bytes + queued.bytes, 0));
        for (const dropped of queue.events.splice(0)) await this.acknowledge(dropped.event);
        this.logger.warn(`callback ${describe(event)} answered 401: delivery for session ${event.session_id} stopped`);
      } else if (error instanceof CallbackHttpError && error.status < 500) {
        this.logger.warn(`callback ${describe(event)} answered ${error.status}: event dropped`);
      } else {
        this.logger.error(`callback ${describe(event)} not delivered, giving up: ${(error as Error).message}`);
      }
    }
    return true;
  }

  /** Dealt with (accepted, refused or given up on): the store forgets it, so no node sends it again. */
  private async acknowledge(event: CallbackEvent): Promise<void> {
    await this.store.acknowledgeEvent(event.session_id, event.event_id).catch((error: Error) => {
      this.logger.warn(`callback ${describe(event)}: could not be marked delivered in the store: ${error.message}`);
    });
  }

  private async post(target: CallbackTarget, event: CallbackEvent, body: string): Promise<void> {
    // Each attempt is a span in the spawn's trace, with the spawn's request id: one trace and one id per session.
    const call = requestTracing.startOutboundCall(`callback ${event.type}`, target.origin);
    let response: Response;
    try {
      response = await this.send(target, event, body, call.headers);
    } catch (error) {
      call.end();
      throw error;
    }
    call.end(response.status);
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300) return;
    throw new CallbackHttpError(response.status, parseRetryAfter(response.headers.get('retry-after'), Date.now()));
  }

  private async send(target: CallbackTarget, event: CallbackEvent, body: string, headers: Record<string, string>): Promise<Response> {
    // A timer and a listener released once the answer is in. AbortSignal.any with the long-lived stop signal left an
    // entry in that signal for every attempt, never removed (Node 20): the heap grew with every callback ever sent.
    const attempt = new AbortController();
    const stop = this.stopController.signal;
    const stopped = () => attempt.abort(stop.reason);
    if (stop.aborted) stopped();
    else stop.addEventListener('abort', stopped, { once: true });
    const timer = setTimeout(
      () => attempt.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      this.config.callbackTimeoutMs,
    );
    try {
      return await fetch(target.url, {
        method: 'POST',
        headers: {
          ...headers,
          authorization: `Bearer ${target.token}`,
          'content-type': 'application/json',
          ...signatureHeaders(target, event, body),
        },
        body,
        // A redirect would carry the token to wherever the receiver points; it counts as a refusal instead.
        redirect: 'manual',
        signal: attempt.signal,
      });
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', stopped);
    }
  }
}

/**
 * The Standard Webhooks headers of one attempt, signed anew each time, so that a
 * retry after minutes still falls within the receiver's five-minute window;
 * `webhook-id` is the event's id, the same on every redelivery.
 */
function signatureHeaders(target: CallbackTarget, event: CallbackEvent, body: string): Record<string, string> {
  if (target.signingSecret === undefined) return {};
  const at = new Date();
  return {
    'webhook-id': event.event_id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(target.signingSecret).sign(event.event_id, at, body),
  };
}

function deliveryFailure(error: unknown): DeliveryOutcome {
  if (!(error instanceof CallbackHttpError) || error.status >= 500) return 'gave_up';
  return error.status === 401 ? 'unauthorized' : 'refused';
}

function describe(event: CallbackEvent): string {
  return `${event.type} #${event.sequence} of session ${event.session_id} (event ${event.event_id})`;
}
