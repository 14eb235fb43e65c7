import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What the proxy does to a request:
 * - `pass`: forward it and relay the answer;
 * - `drop`: accept it and never answer (the caller's own timeout must end it);
 * - `delay`: wait `ms`, then forward it (a slow orchestrator: the work still happens);
 * - `reset`: destroy the caller's connection without forwarding anything;
 * - `status`: answer `status` with a contract error body, forwarding nothing;
 * - `lose_response`: forward it, let the upstream do the work, swallow the
 *   answer and reset the caller's connection (the answer was lost on the way).
 */
export type FaultMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'reset' }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'lose_response' };

/** One request as the proxy saw it. */
export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly fault: FaultMode['kind'];
  /** The upstream's status, when it answered (also for `lose_response`, whose caller never saw it). */
  upstreamStatus?: number;
}

interface Rule {
  readonly mode: FaultMode;
  remaining: number;
  readonly match: (method: string, path: string) => boolean;
}

export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  /**
   * Applies `mode` to the next `times` requests that `match` (default: all
   * requests, until changed). Rules set later take precedence.
   */
  set(mode: FaultMode, options?: { times?: number; match?: (method: string, path: string) => boolean }): void;
  /** Back to forwarding everything. */
  clear(): void;
  /** Every request seen so far, in arrival order. */
  readonly requests: readonly ProxiedRequest[];
  /** Requests that met a fault other than `pass`. */
  faultsInjected(): number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on loopback between two services, with faults switchable at
 * runtime. Plain `node:http` on both sides, one upstream connection per
 * request, so every fault hits exactly the request it is meant for.
 */
export async function startFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  let rules: Rule[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();

  const pick = (method: string, path: string): FaultMode => {
    const rule = rules.find((candidate) => candidate.remaining > 0 && candidate.match(method, path));
    if (!rule) return { kind: 'pass' };
    rule.remaining -= 1;
    rules = rules.filter((candidate) => candidate.remaining > 0);
    return rule.mode;
  };

  const forward = (
    seen: ProxiedRequest,
    incoming: IncomingMessage,
    reply: (upstream: IncomingMessage, body: Buffer) => void,
    fail: () => void,
  ) => {
    const outgoing = httpRequest(
      { host: '127.0.0.1', port: upstreamPort, method: incoming.method, path: incoming.url, headers: incoming.headers, agent: false },
      (upstream) => {
        const chunks: Buffer[] = [];
        upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
        upstream.on('end', () => {
          seen.upstreamStatus = upstream.statusCode;
          reply(upstream, Buffer.concat(chunks));
        });
        upstream.on('error', fail);
      },
    );
    outgoing.on('error', fail);
    outgoing.end(seen.body);
  };

  const handle = (incoming: IncomingMessage, response: ServerResponse, body: string) => {
    const method = incoming.method ?? 'GET';
    const path = incoming.url ?? '/';
    const mode = pick(method, path);
    const seen: ProxiedRequest = { method, path, headers: incoming.headers, body, fault: mode.kind };
    requests.push(seen);
    // The upstream being down looks to the caller like the reset it would have met.
    const fail = () => response.socket?.destroy();
    const relay = (upstream: IncomingMessage, upstreamBody: Buffer) => {
      const headers = { ...upstream.headers };
      delete headers['transfer-encoding'];
      headers['content-length'] = String(upstreamBody.length);
      response.writeHead(upstream.statusCode ?? 502, headers);
      response.end(upstreamBody);
    };
    switch (mode.kind) {
      case 'pass':
        forward(seen, incoming, relay, fail);
        return;
      case 'drop':
        return;
      case 'delay': {
        const timer = setTimeout(() => forward(seen, incoming, relay, fail), mode.ms);
        response.on('close', () => clearTimeout(timer));
        return;
      }
      case 'reset':
        response.socket?.destroy();
        return;
      case 'status':
        response.writeHead(mode.status, { 'content-type': 'application/json', connection: 'close' });
        response.end(JSON.stringify({ error: { code: 'injected_fault', message: `fault proxy answered ${mode.status}` } }));
        return;
      case 'lose_response':
        forward(seen, incoming, () => response.socket?.destroy(), fail);
        return;
    }
  };

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => handle(incoming, response, Buffer.concat(chunks).toString('utf8')));
  });
  server.keepAliveTimeout = 1_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no port');

  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    requests,
    set: (mode, options = {}) => {
      rules = [{ mode, remaining: options.times ?? Number.POSITIVE_INFINITY, match: options.match ?? (() => true) }, ...rules];
    },
    clear: () => {
      rules = [];
    },
    faultsInjected: () => requests.filter((seen) => seen.fault !== 'pass').length,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
