import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { type CallbackAck, type CallbackEvent, LIMITS, callbackEventSchema, isUuid, validate } from '@mosaic/orchestrator-contract';
import { bearerToken, hashSecret } from '@mosaic/http-kit';
import { AppError } from '@mosaic/http-kit';
import { BudgetEnforcer } from '../budgets/budget-enforcer.service';
import { ApiConfig } from '../config/api-config';
import { ApiMetrics } from '../metrics/api-metrics';
import type { StatusReport } from '../sessions/session';
import { logSessionStatusChange } from '../sessions/session-status-log';
import { CallbackSigning, type SignatureHeaders } from '../sessions/callback-signing.service';
import { CallbackTokenService, type TokenValidity } from '../sessions/callback-token.service';
import { type CallbackCredentials, CallbackRepository, type IncomingSessionEvent } from './callback.repository';

/** One callback request as the controller hands it over. */
export interface IncomingCallback {
  /** The API session id in the path. */
  readonly sessionId: string;
  readonly headers: SignatureHeaders & { readonly authorization?: string | string[] | undefined };
  readonly body: unknown;
  /** The bytes the signature covers. */
  readonly rawBody: Buffer | undefined;
  /** Aborts when the orchestrator stops waiting: a callback still queued then leaves the queue. */
  readonly callerGone?: AbortSignal;
}

/**
 * Takes in the orchestrator's callback events. Each is stored once, whatever
 * the number of redeliveries; status-bearing events move the session (and its
 * task) only forward, so events may arrive in any order and late ones after a
 * terminal status are kept without changing it.
 *
 * Only the token issued for the session in the path, still valid, gets a
 * callback in, and, for a session dispatched with a signing secret, only with
 * a valid Standard Webhooks signature (CallbackSigning). Every refusal is the same 401, whatever the reason, so it tells
 * nobody whether the session exists or which check failed; and a caller
 * without a valid token learns nothing about its body either. The token is
 * checked in the statement that stores the event, so a callback costs one
 * round trip to the database.
 */
@Injectable()
export class CallbackIngestionService {
  constructor(
    private readonly callbacks: CallbackRepository,
    private readonly tokens: CallbackTokenService,
    private readonly signing: CallbackSigning,
    private readonly budgets: BudgetEnforcer,
    private readonly metrics: ApiMetrics,
    private readonly config: ApiConfig,
  ) {}

  /** Artifact callbacks being stored now (MAX_ARTIFACTS_IN_FLIGHT). */
  private artifactsInFlight = 0;

  async ingest(callback: IncomingCallback): Promise<CallbackAck> {
    // Like the route's body limit, whoever sent it: the limit depends on the type, known only once the body is read.
    refuseOversized(callback.body, callback.rawBody, this.config.artifactMaxBytes);
    if (!isArtifact(callback.body)) return this.store(callback);
    if (this.artifactsInFlight >= MAX_ARTIFACTS_IN_FLIGHT) {
      throw new AppError('at_capacity', 'too many artifacts are being stored; retry later');
    }
    this.artifactsInFlight++;
    try {
      return await this.store(callback);
    } finally {
      this.artifactsInFlight--;
    }
  }

  private async store(callback: IncomingCallback): Promise<CallbackAck> {
    const { body, callerGone } = callback;
    const token = bearerToken(callback.headers.authorization);
    if (token === undefined || !isUuid(callback.sessionId)) throw invalidCallbackToken();
    const sessionId = callback.sessionId.toLowerCase();
    const eventId = typeof body === 'object' && body !== null ? (body as { event_id?: unknown }).event_id : undefined;
    const credentials: CallbackCredentials = {
      sessionId,
      tokenHash: hashSecret(token),
      signed: this.signing.verifies(sessionId, callback.rawBody, callback.headers, eventId),
    };
    const now = new Date();
    const validity = this.tokens.validityAt(now);

    // The schema refuses everything the recording statement could not store (a NUL, an unpaired
    // surrogate, an exit code beyond int), so a hostile body never reaches that statement, which
    // checks the token only as it stores and is shared with other sessions' callbacks.
    const parsed = validate(callbackEventSchema, body);
    if (!parsed.ok) return this.refuse(credentials, validity, parsed.message);
    const event = parsed.value;
    const mismatch = contentMismatch(event);
    if (mismatch !== undefined) return this.refuse(credentials, validity, mismatch);
    const report = statusReportOf(event, now);
    const { outcome, moved, budgetCrossed } = await this.callbacks.record(
      { credentials, validity, event: incomingEvent(event), report },
      callerGone,
    );
    if (moved !== undefined && report !== undefined) {
      logSessionStatusChange({
        sessionId: credentials.sessionId,
        taskId: moved.taskId,
        from: moved.from,
        to: report.status,
        error: report.error,
      });
    }
    if (outcome === 'stored' && event.type === 'usage') this.metrics.usageReported(event.data);
    // The cancel takes up to its grace: the orchestrator is not kept waiting for its answer.
    if (budgetCrossed !== undefined) void this.budgets.enforce(credentials.sessionId, budgetCrossed);
    switch (outcome) {
      case 'stored':
        return { accepted: true, duplicate: false };
      case 'duplicate':
        return { accepted: true, duplicate: true };
      case 'foreign':
        throw new AppError('bad_request', 'session_id: does not name the orchestrator session this callback URL belongs to');
      case 'unauthorized':
        throw invalidCallbackToken();
    }
  }

  /** An invalid callback: a 400 naming the problem for the session's own token, the uniform 401 for anyone else. */
  private async refuse(credentials: CallbackCredentials, validity: TokenValidity, problem: string): Promise<never> {
    if (!(await this.callbacks.authenticates(credentials, validity))) throw invalidCallbackToken();
    throw new AppError('bad_request', problem);
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
    ...(event.type === 'status' && event.data.node !== undefined ? { node: event.data.node } : {}),
  };
}

/**
 * Artifact callbacks stored at once: each holds up to ARTIFACT_MAX_BYTES several times over while it waits for its
 * statement, where any other callback holds at most 64 KiB. Past it the orchestrator is answered 503 and sends it again.
 */
export const MAX_ARTIFACTS_IN_FLIGHT = 16;

function isArtifact(body: unknown): body is { data?: unknown } {
  return typeof body === 'object' && body !== null && (body as { type?: unknown }).type === 'artifact';
}

/** Refuses (413) a callback over the contract's callback limit, or an artifact whose content is over ARTIFACT_MAX_BYTES. */
function refuseOversized(body: unknown, rawBody: Buffer | undefined, artifactMaxBytes: number): void {
  if (!isArtifact(body)) {
    if ((rawBody?.length ?? 0) > LIMITS.callbackBodyMaxBytes) {
      throw new AppError('payload_too_large', `body over ${LIMITS.callbackBodyMaxBytes} bytes`);
    }
    return;
  }
  const content =
    typeof body.data === 'object' && body.data !== null ? (body.data as { content_base64?: unknown }).content_base64 : undefined;
  // The decoded length, worked out without decoding.
  if (typeof content === 'string' && Buffer.byteLength(content, 'base64') > artifactMaxBytes) {
    throw new AppError('payload_too_large', `data.content_base64: over ARTIFACT_MAX_BYTES (${artifactMaxBytes} bytes) decoded`);
  }
}

/** Why an artifact event's content is not what its `sha256` says, if it is not: refused like any other invalid event. */
function contentMismatch(event: CallbackEvent): string | undefined {
  if (event.type !== 'artifact') return undefined;
  const actual = createHash('sha256').update(Buffer.from(event.data.content_base64, 'base64')).digest('hex');
  return actual === event.data.sha256 ? undefined : 'data.sha256: does not match the content sent';
}

function incomingEvent(event: CallbackEvent): IncomingSessionEvent {
  const stored = {
    eventId: event.event_id,
    orchestratorSessionId: event.session_id,
    sequence: event.sequence,
    type: event.type,
    status: event.status ?? null,
    occurredAt: event.timestamp,
  };
  if (event.type !== 'artifact') return { ...stored, data: event.data };
  const { content_base64: contentBase64, ...summary } = event.data;
  return { ...stored, data: { ...summary, truncated: summary.truncated ?? false }, contentBase64 };
}

/** The one answer to every callback that cannot be attributed to a live session and its token. */
function invalidCallbackToken(): AppError {
  return new AppError('unauthorized', 'invalid callback token');
}
