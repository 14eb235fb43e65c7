import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import { TRACE_HEADERS, extractTraceContext, injectTraceContext, requestIdFrom, startSpan, traceIdOf } from './trace-context';

/** Where a piece of work comes from: the request id and the trace of the request that caused it. */
export interface Origin {
  readonly requestId: string;
  readonly trace: Context;
}

interface OutboundCall {
  /** The `x-request-id` and trace headers to send. */
  readonly headers: Record<string, string>;
  /** Ends the client span; `status` is the answer's, undefined when none came. */
  end(status?: number): void;
}

// One process serves one service, so one store, one span map and one tracing serve it all.
const storage = new AsyncLocalStorage<Origin>();
const serverSpans = new WeakMap<IncomingMessage, { span: Span; context: Context }>();

/**
 * The request id of a request: the caller's `x-request-id` when well-formed,
 * else a new one. Fastify's `genReqId`, so that Fastify, the log lines and
 * the response header all use the same id.
 */
export function requestIdFor(request: IncomingMessage): string {
  return requestIdFrom(request.headers[TRACE_HEADERS.requestId]);
}

/** The id of the request being handled, for the lines logged while it is; undefined outside one. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** The trace id of a request, for its log line. */
export function traceIdOfRequest(request: IncomingMessage): string | undefined {
  const started = serverSpans.get(request);
  return started === undefined ? undefined : traceIdOf(started.context);
}

/**
 * The instrumentation scope of every span: which service made a span is its
 * SDK's `service.name` resource, set per process by whoever installs an SDK.
 */
const TRACER_NAME = '@mosaic/observability';

/**
 * A service's request id and W3C trace context: continued from each incoming
 * request, carried through the work it causes, and sent on every outgoing call.
 * Spans go through OpenTelemetry's API, so a user's own SDK sees them; without
 * one, the trace context still travels.
 */
class RequestTracing {
  /**
   * Gives every request a server span (continuing the caller's trace) and runs
   * its handler with the request as its `Origin`. The origin is entered in
   * `preHandler`, after the body has been read: stream events run outside any
   * context entered earlier, and everything Nest does runs after this hook.
   */
  install(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', (request, reply, done) => {
      // Fastify's reply is thenable; setting a header needs no waiting.
      void reply.header(TRACE_HEADERS.requestId, request.id);
      const name = `${request.method} ${request.routeOptions.url ?? 'unmatched'}`;
      serverSpans.set(request.raw, startSpan(TRACER_NAME, name, SpanKind.SERVER, extractTraceContext(request.headers)));
      done();
    });
    fastify.addHook('preHandler', (request, _reply, done) => {
      storage.run({ requestId: request.id, trace: serverSpans.get(request.raw)?.context ?? ROOT_CONTEXT }, done);
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      const started = serverSpans.get(request.raw);
      if (started !== undefined) {
        started.span.setAttribute('http.response.status_code', reply.statusCode);
        if (reply.statusCode >= 500) started.span.setStatus({ code: SpanStatusCode.ERROR });
        started.span.end();
      }
      done();
    });
  }

  /** The request being handled; outside one (a loop, start-up), a new request id in a new trace. */
  currentOrigin(): Origin {
    return storage.getStore() ?? { requestId: requestIdFrom(undefined), trace: ROOT_CONTEXT };
  }

  /** A client span for one outgoing HTTP call made on behalf of `origin`, and the headers that carry it. */
  startOutboundCall(name: string, origin: Origin = this.currentOrigin()): OutboundCall {
    const { span, context } = startSpan(TRACER_NAME, name, SpanKind.CLIENT, origin.trace);
    const headers: Record<string, string> = { [TRACE_HEADERS.requestId]: origin.requestId };
    injectTraceContext(context, headers);
    return {
      headers,
      end: (status) => {
        if (status !== undefined) span.setAttribute('http.response.status_code', status);
        if (status === undefined || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  }
}

export const requestTracing = new RequestTracing();
