import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import {
  TRACE_HEADERS,
  extractTraceContext,
  injectTraceContext,
  requestIdFrom,
  startSpan,
  traceIdOf,
} from '@mosaic/orchestrator-contract';

export const TRACER_NAME = 'mosaic-api';

/** What the calls a request causes carry along: its request id and its place in a trace. */
export interface RequestContext {
  readonly requestId: string;
  readonly trace: Context;
}

const storage = new AsyncLocalStorage<RequestContext>();
const serverSpans = new WeakMap<IncomingMessage, { span: Span; context: Context }>();

/**
 * The request id of a request: the caller's `x-request-id` when well-formed,
 * else a new one. Fastify's `genReqId`, so that Fastify, pino-http (which
 * takes `req.id`) and the response header all use the same id.
 */
export function requestIdFor(request: IncomingMessage): string {
  return requestIdFrom(request.headers[TRACE_HEADERS.requestId]);
}

/** The trace id of a request, for its log line. */
export function traceIdOfRequest(request: IncomingMessage): string | undefined {
  const started = serverSpans.get(request);
  return started === undefined ? undefined : traceIdOf(started.context);
}

/**
 * Gives every request a server span (continuing the caller's trace) and runs
 * its handler inside a `RequestContext`. The context is entered in
 * `preHandler`, after the body has been read: stream events run outside any
 * context entered earlier, and everything Nest does (guards, pipes, the
 * handler) runs after this hook.
 */
export function installRequestContext(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
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

export interface OutboundCall {
  /** The `x-request-id` and trace headers to send. */
  readonly headers: Record<string, string>;
  /** Ends the client span; `status` is the answer's, undefined when none came. */
  end(status?: number): void;
}

/**
 * A client span for one outgoing HTTP call, under the current request's span,
 * and the headers that carry it and the request id to the callee. Outside a
 * request (a loop, start-up) the call starts its own trace and request id.
 */
export function startOutboundCall(name: string): OutboundCall {
  const current = storage.getStore();
  const { span, context } = startSpan(TRACER_NAME, name, SpanKind.CLIENT, current?.trace ?? ROOT_CONTEXT);
  const headers: Record<string, string> = { [TRACE_HEADERS.requestId]: current?.requestId ?? requestIdFrom(undefined) };
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
