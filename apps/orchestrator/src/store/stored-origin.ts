import { ROOT_CONTEXT, createTraceState, isSpanContextValid, trace } from '@opentelemetry/api';
import type { CallbackTarget } from './session-store';
import type { StoreSecrets } from './store-secrets';

/**
 * An Origin as a shared store can keep it. Its `trace` is an OpenTelemetry Context,
 * an object of this process only: what the callbacks need from it, on whichever node
 * sends them, is the span they continue, so that span's ids are what is kept.
 */
export interface StoredOrigin {
  requestId: string;
  span?: { traceId: string; spanId: string; traceFlags: number; traceState?: string };
}

/** A CallbackTarget as JSON, its token and signing secret sealed (StoreSecrets) for the session. */
export type StoredCallbackTarget = Omit<CallbackTarget, 'origin'> & { origin: StoredOrigin };

export function storedCallbackTarget(
  sessionId: string,
  { origin, token, signingSecret, url }: CallbackTarget,
  secrets: StoreSecrets,
): StoredCallbackTarget {
  const target = {
    url,
    token: secrets.seal(sessionId, 'token', token),
    ...(signingSecret === undefined ? {} : { signingSecret: secrets.seal(sessionId, 'signingSecret', signingSecret) }),
  };
  const span = trace.getSpanContext(origin.trace);
  if (span === undefined || !isSpanContextValid(span)) return { ...target, origin: { requestId: origin.requestId } };
  const traceState = span.traceState?.serialize();
  return {
    ...target,
    origin: {
      requestId: origin.requestId,
      span: { traceId: span.traceId, spanId: span.spanId, traceFlags: span.traceFlags, ...(traceState ? { traceState } : {}) },
    },
  };
}

/** Throws SealedSecretError when the token or signing secret was not sealed for this session under a key of `secrets`. */
export function callbackTarget(
  sessionId: string,
  { origin, token, signingSecret, url }: StoredCallbackTarget,
  secrets: StoreSecrets,
): CallbackTarget {
  const target = {
    url,
    token: secrets.open(sessionId, 'token', token),
    ...(signingSecret === undefined ? {} : { signingSecret: secrets.open(sessionId, 'signingSecret', signingSecret) }),
  };
  const { span } = origin;
  const context =
    span === undefined
      ? ROOT_CONTEXT
      : trace.setSpanContext(ROOT_CONTEXT, {
          traceId: span.traceId,
          spanId: span.spanId,
          traceFlags: span.traceFlags,
          isRemote: true,
          ...(span.traceState === undefined ? {} : { traceState: createTraceState(span.traceState) }),
        });
  return { ...target, origin: { requestId: origin.requestId, trace: context } };
}
