import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { CallbackReceiver, type CallbackEndpoint } from '../support/callback-receiver';
import { eventually } from '../support/eventually';
import { request } from '../support/http';
import { startService, withServiceOutput, type ServiceProcess, stopLeavingNoProcesses } from '../support/service-process';

const ENTRY = join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_KEY = 'e2e-orchestrator-key';
const SESSIONS = 1_000;

interface Page {
  sessions: { session_id: string; status: string; created_at: string }[];
  next_cursor: string | null;
}

describe('orchestrator session list paging (built service)', () => {
  let service: ServiceProcess | undefined;
  let receiver: CallbackReceiver;
  let endpoint: CallbackEndpoint;

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    endpoint = receiver.endpoint();
    // A trivial agent: this test is about the list, and 1,000 sample agents would take minutes of CPU.
    service = await startService({
      name: 'orchestrator-paging',
      entry: ENTRY,
      env: { ORCHESTRATOR_API_KEY: API_KEY, AGENT_COMMAND: 'exit 0', MAX_CONCURRENT_SESSIONS: '5000' },
    });
  });

  afterAll(async () => {
    await stopLeavingNoProcesses(service);
    await receiver?.close();
  });

  async function spawnOne(): Promise<string> {
    const answer = await request<{ session_id: string }>('POST', `${service!.url}/orchestrator/sessions/spawn`, {
      token: API_KEY,
      headers: { 'idempotency-key': randomUUID() },
      body: {
        task: { id: randomUUID(), title: 'paging' },
        context: { schema_version: 1 },
        callback_url: endpoint.url,
        callback_token: 't',
      },
    });
    if (answer.status !== 201) throw new Error(`spawn answered ${answer.status}: ${answer.text}`);
    return answer.body.session_id;
  }

  async function list(query: string): Promise<Page> {
    const answer = await request<Page>('GET', `${service!.url}/orchestrator/sessions?${query}`, { token: API_KEY });
    expect(answer.status).toBe(200);
    return answer.body;
  }

  it(
    'following next_cursor visits each of 1,000 sessions once, newest first, while sessions are being created',
    withServiceOutput(
      () => [service],
      async () => {
        const created: string[] = [];
        for (let batch = 0; batch < SESSIONS / 25; batch++) created.push(...(await Promise.all(Array.from({ length: 25 }, spawnOne))));

        const visited: string[] = [];
        const createdAt: number[] = [];
        const createdMeanwhile: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Page = await list(`limit=70${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          visited.push(...page.sessions.map((session) => session.session_id));
          createdAt.push(...page.sessions.map((session) => Date.parse(session.created_at)));
          cursor = page.next_cursor;
          pages++;
          createdMeanwhile.push(await spawnOne(), await spawnOne());
        } while (cursor !== null);

        expect(pages).toBe(Math.ceil(SESSIONS / 70));
        expect(new Set(visited).size).toBe(visited.length);
        expect(visited).toHaveLength(SESSIONS);
        expect(new Set(visited)).toEqual(new Set(created));
        expect(createdAt).toEqual([...createdAt].sort((a, b) => b - a));
        expect(visited.filter((id) => createdMeanwhile.includes(id))).toEqual([]);

        const fresh = await list('limit=2');
        expect(fresh.sessions.map((session) => session.session_id)).toEqual(createdMeanwhile.slice(-2).reverse());
      },
    ),
    60_000,
  );

  it(
    'a status filter pages over matching sessions only',
    withServiceOutput(
      () => [service],
      async () => {
        // The queue runs the sessions spawned above a few at a time: wait until some have completed.
        await eventually(async () => expect((await list('status=completed&limit=1')).sessions).not.toEqual([]), 20_000);
        const seen: Page['sessions'] = [];
        let cursor: string | null = null;
        do {
          const page: Page = await list(`status=completed&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          seen.push(...page.sessions);
          cursor = page.next_cursor;
        } while (cursor !== null);
        expect(seen.length).toBeGreaterThan(0);
        expect(seen.every((session) => session.status === 'completed')).toBe(true);
        expect(new Set(seen.map((session) => session.session_id)).size).toBe(seen.length);
      },
    ),
    30_000,
  );
});
