import http from 'node:http';
import { nodeArgsOf } from './service-process';

/** The heap bound a built service runs with, as its package.json gives it (`--max-old-space-size`, in MB). */
export function heapLimitMbOf(entry: string): number {
  return Number(
    nodeArgsOf(entry)
      .find((argument) => argument.startsWith('--max-old-space-size='))
      ?.split('=')[1],
  );
}

/** One client of a stream flood: its operator key and the loopback address it connects from. */
export interface FloodClient {
  readonly key: string;
  readonly address: string;
}

/**
 * Asks for the live list of sessions on a connection of its own: an open stream is kept (and read, so that the API
 * never has to hold it back), a refusal read and closed. A connection the API could not take counts as status 0.
 */
function openListStream(port: number, client: FloodClient): Promise<{ status: number; held?: http.IncomingMessage }> {
  return new Promise((resolve) => {
    const sent = http.get(
      {
        host: '127.0.0.1',
        port,
        path: '/orchestrator/events/stream',
        localAddress: client.address,
        agent: false,
        headers: { authorization: `Bearer ${client.key}` },
      },
      (response) => {
        response.resume();
        if (response.statusCode === 200) return resolve({ status: 200, held: response });
        response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
      },
    );
    sent.on('error', () => resolve({ status: 0 }));
  });
}

/**
 * Makes `attempts` list-stream connections, `inFlight` at a time, from `clients` in turn. Every stream opened is
 * added to `held` (the caller ends them); answers the count of each status.
 */
export async function floodListStreams(
  port: number,
  options: { attempts: number; clients: readonly FloodClient[]; inFlight: number; held: http.IncomingMessage[] },
): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: options.inFlight }, async () => {
      while (next < options.attempts) {
        const answer = await openListStream(port, options.clients[next++ % options.clients.length]);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        if (answer.held !== undefined) options.held.push(answer.held);
      }
    }),
  );
  return statuses;
}
