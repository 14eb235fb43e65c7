import { ROOT_CONTEXT, createTraceState, isSpanContextValid, trace } from '@opentelemetry/api';
import type { CallbackTarget } from './session-store';

/**
 * An Origin as a shared store can keep it. Its `trace` is an OpenTelemetry Context,
 * an object of this process only: what the callbacks need from it, on whichever node
 * sends them, is the span they continue, so that span's ids are what is kept.
 */
export interface StoredOrigin {
  requestId: string;
  span?: { traceId: string; spanId: string; traceFlags: number; traceState?: string };
}

/** A CallbackTarget as JSON. */
export type StoredCallbackTarget = Omit<CallbackTarget, 'origin'> & { origin: StoredOrigin };

export function storedCallbackTarget({ origin, ...target }: CallbackTarget): StoredCallbackTarget {
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

export function callbackTarget({ origin, ...target }: StoredCallbackTarget): CallbackTarget {
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
