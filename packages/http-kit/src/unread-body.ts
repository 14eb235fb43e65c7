import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** How long a sender may go on sending a body that was refused before its connection is cut. */
const DEFAULT_MAX_DRAIN_MS = 30_000;

/**
 * For an answer given before the request's body was read (a refusal): reads the rest of the body and throws it
 * away, cutting a sender still going after `maxDrainMs`, and keeps the connection open until the body is over.
 *
 * Why: a connection closed with request bytes unread is reset by the kernel, and that reset can overtake, or
 * discard, the answer written just before it; the client then sees EPIPE or ECONNRESET and never the refusal.
 * A connection that is to close after this answer (the client asked for it) is therefore answered as one kept
 * alive, and closed from our side once the body is over (RFC 9112, section 9.6): the client still gets its
 * answer at once, even one that stopped sending and waits for it.
 */
export function answerBeforeBody(incoming: IncomingMessage, response: ServerResponse, maxDrainMs = DEFAULT_MAX_DRAIN_MS): void {
  if (incoming.complete || incoming.socket.destroyed) return;
  const bodyOver = discardRestOfBody(incoming, maxDrainMs);
  if (response.shouldKeepAlive) return;
  response.shouldKeepAlive = true;
  const answered = new Promise<void>((resolve) => response.once('finish', resolve));
  void Promise.all([answered, bodyOver]).then(() => incoming.socket.end());
}

/** Settles once the body is over or the connection gone; the connection is cut past `maxDrainMs`. */
function discardRestOfBody(incoming: IncomingMessage, maxDrainMs: number): Promise<void> {
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
 * answer that refuses it: Fastify answers as soon as it knows, from the `Content-Length` or the `Content-Type`,
 * and marks the answer `Connection: close`, so that Node would close the connection with the body unread.
 */
export function drainUnreadBodies(fastify: FastifyInstance, maxDrainMs = DEFAULT_MAX_DRAIN_MS): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (!request.raw.complete) {
      reply.removeHeader('connection');
      answerBeforeBody(request.raw, reply.raw, maxDrainMs);
    }
    done(null, payload);
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
