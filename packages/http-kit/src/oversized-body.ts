import type { FastifyInstance } from 'fastify';

/** How long a sender may go on sending a body that was refused before its connection is cut. */
const DEFAULT_MAX_DRAIN_MS = 30_000;

/**
 * Lets the sender of a body over the limit read the `413` that refuses it.
 *
 * Fastify answers `413` as soon as it knows a body is too large, from its
 * `Content-Length` or while reading it, and marks the answer
 * `Connection: close`. Node then closes the socket once the answer is written,
 * while a client such as Node's fetch is still uploading: the bytes that keep
 * coming meet a closed socket, the kernel answers them with a reset, and the
 * client gets EPIPE or ECONNRESET instead of the answer.
 *
 * Without `Connection: close`, Node does for this answer what it does for any
 * request whose body nobody read (a 401 from a hook, say): it reads the rest
 * of the body, throws it away, and keeps the connection. A sender still going
 * after `maxDrainMs` has its connection cut, as before.
 */
export function drainOversizedBodies(fastify: FastifyInstance, maxDrainMs = DEFAULT_MAX_DRAIN_MS): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const incoming = request.raw;
    if (reply.statusCode === 413 && !incoming.complete) {
      reply.removeHeader('connection');
      const socket = incoming.socket;
      // Destroying a request whose body is not over destroys its socket.
      const cut = setTimeout(() => incoming.destroy(), maxDrainMs).unref();
      // Cleared once the body is over, so that it never cuts a later request on the same connection.
      const drained = () => {
        clearTimeout(cut);
        incoming.off('end', drained);
        socket.off('close', drained);
      };
      incoming.once('end', drained);
      socket.once('close', drained);
    }
    done(null, payload);
  });
}
