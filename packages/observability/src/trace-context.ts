import {
  ROOT_CONTEXT,
  TraceFlags,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
  type Span,
  type SpanContext,
  type SpanKind,
} from '@opentelemetry/api';
import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Correlation across the API, the orchestrator and the callbacks. Not part of
 * contract v1's required surface: a peer that sends neither header still works,
 * it just starts a new request id and a new trace.
 */
export const TRACE_HEADERS = {
  requestId: 'x-request-id',
  traceparent: 'traceparent',
} as const;

/**
 * What a request id from outside may look like. It ends up in every log line
 * of the request and in the headers of the calls it causes, so anything that
 * could break a log line or a header (spaces, quotes, control characters) or
 * make one huge is replaced by an id of our own.
 */
const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The request id a caller sent, when it is well-formed; a new one otherwise. */
export function requestIdFrom(header: unknown): string {
  const value = Array.isArray(header) ? header[0] : header;
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : randomUUID();
}

// W3C Trace Context, version 00: https://www.w3.org/TR/trace-context/#traceparent-header
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The span context a `traceparent` header names; undefined when it is absent or malformed. */
export function parseTraceparent(header: unknown): SpanContext | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is forbidden; version 00 has nothing after the flags.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const context: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(context) ? context : undefined;
}

export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-0${context.traceFlags & TraceFlags.SAMPLED}`;
}

type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The trace an incoming request belongs to: what a registered propagator (an
 * OpenTelemetry SDK the operator installed) reads from its headers, or else its
 * `traceparent`, so that the trace travels even when no SDK is installed.
 */
export function extractTraceContext(headers: IncomingHeaders): Context {
  const extracted = propagation.extract(ROOT_CONTEXT, headers);
  if (trace.getSpanContext(extracted) !== undefined) return extracted;
  const parent = parseTraceparent(headers[TRACE_HEADERS.traceparent]);
  return parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent);
}

interface StartedSpan {
  readonly span: Span;
  /** `parent` with the new span as the current one: what calls made within it carry. */
  readonly context: Context;
}

/**
 * Starts a span through the OpenTelemetry API, so that an installed SDK records
 * it. Without an SDK the API's no-op tracer hands back the parent's ids (or
 * none at all): the span then gets ids of its own, in the parent's trace or a
 * new one, so that every hop still shows as a distinct span of one trace.
 */
export function startSpan(tracerName: string, name: string, kind: SpanKind, parent: Context): StartedSpan {
  const span = trace.getTracer(tracerName).startSpan(name, { kind }, parent);
  const parentIds = trace.getSpanContext(parent);
  const own = span.spanContext();
  if (isSpanContextValid(own) && own.spanId !== parentIds?.spanId) return { span, context: trace.setSpan(parent, span) };
  const continued = parentIds !== undefined && isSpanContextValid(parentIds);
  const synthetic = trace.wrapSpanContext({
    traceId: continued ? parentIds.traceId : randomHex(16),
    spanId: randomHex(8),
    // A new trace is marked sampled: nothing upstream decided against recording it.
    traceFlags: continued ? parentIds.traceFlags : TraceFlags.SAMPLED,
    ...(continued && parentIds.traceState !== undefined ? { traceState: parentIds.traceState } : {}),
  });
  return { span: synthetic, context: trace.setSpan(parent, synthetic) };
}

/**
 * Random ids are cut from a pooled buffer, refilled 4 KiB at a time: every
 * request starts a span, and a `randomBytes` call per id was the largest single
 * cost of the API's per-request tracing (docs/performance.md).
 */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

function randomHex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomOffset = 0;
  }
  randomOffset += bytes;
  return randomPool.toString('hex', randomOffset - bytes, randomOffset);
}

/** Writes the trace headers for a call made within `context`, with or without a registered propagator. */
export function injectTraceContext(context: Context, headers: Record<string, string>): void {
  propagation.inject(context, headers);
  const current = trace.getSpanContext(context);
  if (headers[TRACE_HEADERS.traceparent] === undefined && current !== undefined && isSpanContextValid(current)) {
    headers[TRACE_HEADERS.traceparent] = formatTraceparent(current);
  }
}

/** The trace id of `context`, for log lines; undefined outside any trace. */
export function traceIdOf(context: Context): string | undefined {
  const current = trace.getSpanContext(context);
  return current !== undefined && isSpanContextValid(current) ? current.traceId : undefined;
}
