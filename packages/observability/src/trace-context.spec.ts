import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { extractTraceContext, formatTraceparent, injectTraceContext, parseTraceparent, requestIdFrom, startSpan } from './trace-context';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const HEADER = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('trace context without an OpenTelemetry SDK', () => {
  it('reads and writes W3C traceparent headers, refusing malformed ones', () => {
    expect(parseTraceparent(HEADER)).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    expect(formatTraceparent(parseTraceparent(HEADER)!)).toBe(HEADER);
    for (const bad of [
      '',
      '00-nonsense',
      `ff-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`,
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  it('continues the caller trace in a span of its own, and passes it on', () => {
    const { context } = startSpan('test', 'hop', SpanKind.SERVER, extractTraceContext({ traceparent: HEADER }));
    const headers: Record<string, string> = {};
    injectTraceContext(context, headers);
    const sent = parseTraceparent(headers.traceparent);
    expect(sent?.traceId).toBe(TRACE_ID);
    expect(sent?.spanId).not.toBe(SPAN_ID);
  });

  it('starts a new trace when the caller sent none', () => {
    const { context } = startSpan('test', 'root', SpanKind.SERVER, extractTraceContext({}));
    expect(trace.getSpanContext(context)?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(trace.getSpanContext(ROOT_CONTEXT)).toBeUndefined();
  });

  it('keeps a well-formed request id and replaces anything else', () => {
    expect(requestIdFrom('dispatch-42.a:b')).toBe('dispatch-42.a:b');
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'line\nbreak', '"quoted"']) expect(requestIdFrom(bad)).not.toBe(bad);
  });
});
