import { killNodeAndAgents } from '../../support/orchestrator-cluster';
import { waitForNoProcesses } from '../../support/process-table';
import { openSse, type SseConnection } from '../../support/sse-client';
import {
  OPERATOR_TOKEN,
  createTask,
  dispatch,
  eventFigures,
  expectNothingLost,
  gappedSessions,
  query,
  settledAccount,
  waitForAllTerminal,
  waitUntil,
} from '../harness';
import type { ScenarioBody } from '../report';

const AUTH = { authorization: `Bearer ${OPERATOR_TOKEN}` };

interface StreamedEvent {
  event_id: string;
  sequence: number;
  type: string;
  status: string | null;
  data: { error?: string };
  received_at: string;
}

/**
 * 18. Node-0 dies (SIGKILL, its agents with it) while 50 clients follow its sessions' event streams and a few
 * follow the sessions list. Each client must get exactly what the database holds for its session, in order, up to
 * the node_lost status event another node sends for it, and then see its stream end.
 */
export const nodeLostWhileStreaming: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const nodeLostAfterMs = 3_000;
  const capacity = 4;
  const nodes = await h.cluster({ nodes: 3, capacity, env: { QUEUE_URL: undefined, NODE_LOST_AFTER_MS: String(nodeLostAfterMs) } });
  const api = await h.api({
    databaseUrl,
    orchestratorUrl: nodes.map((node) => node.service.url).join(','),
    env: { ORCHESTRATOR_SPAWN_TIMEOUT_MS: '30000', RECONCILE_STALE_AFTER_MS: '60000' },
  });
  type Row = { id: string; status: string; error: string | null; node: string | null };
  const apiRows = () =>
    query<Row>(databaseUrl, 'SELECT id::text, status::text AS status, error, node FROM orchestrator_sessions ORDER BY created_at');

  // A progress and a usage report every second for about 50 s: events flow steadily while the node is lost, and the
  // survivors complete by themselves well after node-0's sessions have ended.
  const sessions = 3 * capacity;
  const agent = { sample_agent: { steps: 50, step_ms: 1_000 } };
  const answers = await Promise.all(Array.from({ length: sessions }, async () => dispatch(api, await createTask(api, agent))));
  expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 202));
  await waitUntil(
    'every session running',
    async () => (await apiRows()).filter((row) => row.status === 'running').length === sessions,
    60_000,
  );
  const before = await apiRows();
  const perNode: Record<string, number> = {};
  for (const row of before) perNode[row.node ?? 'none'] = (perNode[row.node ?? 'none'] ?? 0) + 1;
  expect(perNode).toEqual({ 'node-0': capacity, 'node-1': capacity, 'node-2': capacity });
  const lostNode = nodes[0];
  const lostSessions = before.filter((row) => row.node === lostNode.nodeId).map((row) => row.id);

  const streamClients = 50;
  const listClients = 4;
  const clients: { sessionId: string; connection: SseConnection; openedAt: number; endedAt?: number }[] = [];
  const lists: SseConnection[] = [];
  try {
    // All at once, as clients come: on a busy machine each open takes the API a good part of a second.
    const opening = [
      ...Array.from({ length: listClients }, async () => lists.push(await openSse(`${api.service.url}/orchestrator/events/stream`, AUTH))),
      ...Array.from({ length: streamClients }, async (_, index) => {
        const sessionId = lostSessions[index % lostSessions.length];
        const openedAt = Date.now();
        const client = {
          sessionId,
          connection: await openSse(`${api.service.url}/orchestrator/sessions/${sessionId}/events/stream`, AUTH),
          openedAt,
          endedAt: undefined as number | undefined,
        };
        // Notes when each stream ends, whenever that is.
        void client.connection.ended.then(() => (client.endedAt = performance.now()));
        clients.push(client);
      }),
    ];
    await Promise.all(opening);
    expect([...lists, ...clients.map((client) => client.connection)].map((connection) => connection.status)).toEqual(
      Array(listClients + streamClients).fill(200),
    );
    // Live, not only caught up: every client has had a few events stored after it connected.
    const liveSince = Date.now();
    await waitUntil(
      'every client receiving live events',
      () =>
        clients.every(
          ({ connection }) =>
            connection.events.filter((event) => Date.parse((JSON.parse(event.data) as StreamedEvent).received_at) > liveSince).length >= 4,
        ),
      30_000,
    );

    h.sampleAgentsOf(lostNode.service);
    const killedAt = performance.now();
    const killed = killNodeAndAgents(lostNode.service);
    await waitForNoProcesses(killed, 5_000);
    await waitUntil(
      "node-0's sessions failed in the API",
      async () => (await apiRows()).filter((row) => lostSessions.includes(row.id)).every((row) => row.status === 'failed'),
      nodeLostAfterMs + 10_000,
    );
    const lostAfterMs = Math.round(performance.now() - killedAt);
    // The terminal event is stored with the session's end: each stream sends it and ends within moments.
    await waitUntil('every event stream ended', () => clients.every((client) => client.endedAt !== undefined), 10_000);
    expect(clients.filter((client) => client.endedAt! < killedAt).map((client) => client.sessionId)).toEqual([]);
    const streamsEndedAfterMs = Math.round(Math.max(...clients.map((client) => client.endedAt!)) - killedAt);
    for (const sessionId of lostSessions) {
      for (const list of lists) {
        await list.waitFor((events) => events.some((event) => isFailedSession(event.data, sessionId)), 10_000);
      }
    }

    const rows = await waitForAllTerminal(databaseUrl, sessions, 90_000);
    expect(rows.filter((row) => lostSessions.includes(row.id)).map((row) => [row.status, row.error])).toEqual(
      lostSessions.map(() => ['failed', 'node_lost']),
    );
    expect(rows.filter((row) => !lostSessions.includes(row.id)).map((row) => row.status)).toEqual(
      Array(sessions - lostSessions.length).fill('completed'),
    );
    const account = await settledAccount(databaseUrl, [api.callbacks]);
    expectNothingLost(account);
    expect(await gappedSessions(databaseUrl)).toEqual([]);

    // Every stored event of the session (the API's own dispatch record included), once each, in order, ending with the node_lost status.
    const stored = await query<{ session_id: string; event_ids: string[] }>(
      databaseUrl,
      'SELECT session_id::text, array_agg(event_id ORDER BY sequence, id) AS event_ids FROM orchestrator_session_events WHERE session_id = ANY($1::uuid[]) GROUP BY session_id',
      [lostSessions],
    );
    const storedOf = new Map(stored.map((row) => [row.session_id, row.event_ids]));
    const lags: number[] = [];
    for (const { sessionId, connection, openedAt } of clients) {
      const received = connection.events.map((event) => ({
        ...(JSON.parse(event.data) as StreamedEvent),
        id: event.id,
        kind: event.event,
        at: event.receivedAt,
      }));
      expect([sessionId, received.map((event) => event.event_id)]).toEqual([sessionId, storedOf.get(sessionId)]);
      expect(received.every((event) => event.id === String(event.sequence) && event.kind === event.type)).toBe(true);
      expect(received.at(-1)).toMatchObject({ type: 'status', status: 'failed', data: { error: 'node_lost' } });
      for (const event of received) if (Date.parse(event.received_at) >= openedAt) lags.push(event.at - Date.parse(event.received_at));
    }
    await h.assertNoAgentsLeft(10_000);

    const perClient = clients.map(({ connection }) => connection.events.length);
    lags.sort((a, b) => a - b);
    report({
      load: `${sessions} sessions of ${agent.sample_agent.steps} progress and usage reports ${agent.sample_agent.step_ms} ms apart on 3 nodes of capacity ${capacity}; ${streamClients} clients on the event streams of node-0's ${lostSessions.length} sessions (${streamClients / lostSessions.length} each), ${listClients} on the sessions list stream`,
      faults: `node-0 and its agents SIGKILLed while they streamed (NODE_LOST_AFTER_MS ${nodeLostAfterMs})`,
      inputs: `${sessions} dispatches, ${streamClients + listClients} stream clients`,
      ...eventFigures(account),
      notes: `node-0's ${lostSessions.length} sessions ended failed (node_lost) in the API ${lostAfterMs} ms after the kill (bound ${nodeLostAfterMs + 10_000} ms); all ${streamClients} event streams ended after the node_lost status event, the last ${streamsEndedAfterMs} ms after the kill; each client received exactly its session's stored events, once each and in order (${Math.min(...perClient)} to ${Math.max(...perClient)} events per client, ${perClient.reduce((sum, count) => sum + count, 0)} in all); from storage to client, events stored after the client connected took median ${lags[Math.floor(lags.length / 2)]} ms, p99 ${lags[Math.floor(lags.length * 0.99)]} ms, max ${lags.at(-1)} ms (${lags.length} deliveries); all ${listClients} list clients saw the ${lostSessions.length} sessions become failed; the ${sessions - lostSessions.length} sessions of node-1 and node-2 completed; no agent process left.`,
    });
  } finally {
    for (const connection of [...lists, ...clients.map((client) => client.connection)]) connection.close();
  }
};

function isFailedSession(data: string, sessionId: string): boolean {
  const session = JSON.parse(data) as { id: string; status: string; error: string | null };
  return session.id === sessionId && session.status === 'failed' && session.error === 'node_lost';
}
