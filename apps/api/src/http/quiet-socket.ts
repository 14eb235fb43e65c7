import type { Socket } from 'node:net';

/**
 * Runs `work` with the socket's idle timeout off. The server closes a socket
 * that stays silent for its connection timeout, even with a request in
 * flight; a request that waits on the orchestrator for longer (a cancel with a
 * long grace) would lose its answer. `work` must bound its own wait.
 */
export async function withQuietSocket<T>(socket: Socket, work: () => Promise<T>): Promise<T> {
  // An injected request (Fastify's `inject`) has a stand-in socket without timers, and no idle timeout to lift.
  if (typeof socket.setTimeout !== 'function') return work();
  const idleTimeoutMs = socket.timeout ?? 0;
  socket.setTimeout(0);
  try {
    return await work();
  } finally {
    socket.setTimeout(idleTimeoutMs);
  }
}
