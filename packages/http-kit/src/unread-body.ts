import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** How long a sender may go on sending a body that was refused before its connection is cut. */
export const DEFAULT_MAX_DRAIN_MS = 30_000;

/**
 * Reads the rest of a refused request's body and throws it away; settles once it is over, or once the connection is
 * gone, which it is cut to be past `maxDrainMs`.
 *
 * Why: a connection closed with request bytes unread is reset by the kernel, and that reset can overtake, or
 * discard, the answer written just before it; the client then sees EPIPE or ECONNRESET and never the refusal.
 */
export function discardUnreadBody(incoming: IncomingMessage, maxDrainMs = DEFAULT_MAX_DRAIN_MS): Promise<void> {
  if (incoming.complete || incoming.socket.destroyed) return Promise.resolve();
  return new Promise((settle) => {
    const socket = incoming.socket;
    // Destroying a request whose body is not over destroys its socket.
    const cut = setTimeout(() => incoming.destroy(), maxDrainMs).unref();
    // Cleared once the body is over, so that it never cuts a later request on the same connection.
    const over = () => {
      clearTimeout(cut);
      incoming.off('end', over);
      socket.off('close', over);
      settle();
    };
    incoming.once('end', over);
    socket.once('close', over);
    incoming.resume();
  });
}

/**
 * Lets the sender of a body that is refused before it is read (over the limit, of a type no parser takes) read the
 * answer that refuses it.
 *
 * Fastify answers as soon as it knows, from the `Content-Length` or the `Content-Type`, and marks the answer
 * `Connection: close`; Node closes the socket once the answer is written, while a client such as Node's fetch is
 * still uploading, and the client gets EPIPE or ECONNRESET instead of the answer. Without that mark the rest of the
 * body is read and thrown away and the connection kept; a client that asked for the connection to be closed gets
 * its answer once its body is over, since Node closes the connection as soon as that answer is written.
 */
export function drainUnreadBodies(fastify: FastifyInstance, maxDrainMs = DEFAULT_MAX_DRAIN_MS): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (request.raw.complete) {
      done(null, payload);
      return;
    }
    reply.removeHeader('connection');
    const bodyOver = discardUnreadBody(request.raw, maxDrainMs);
    if (reply.raw.shouldKeepAlive) done(null, payload);
    else void bodyOver.then(() => done(null, payload));
  });
}

/**
 * Writes the answer to a request that could not even be read (no HTTP, a head too large), then closes our side of
 * the connection and, `lingerMs` later, the whole of it: closed at once, with the client's bytes still coming, the
 * connection would be reset, and the reset can overtake the answer (RFC 9112, section 9.6). Reading stops
 * meanwhile, since Node's parser refuses anything after a request it could not read.
 */
export function answerThenClose(socket: Socket, answer: string, lingerMs: number): void {
  socket.pause();
  const cut = setTimeout(() => socket.destroy(), lingerMs).unref();
  socket.once('close', () => clearTimeout(cut));
  socket.end(answer);
}
