import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Pool } from 'pg';
import { CALLBACK_FLOOR_TABLE, DISPATCH_FLOOR_TABLE } from './floor-tables';

// The API's own Fastify, so the baseline differs from the API only in what the API adds on top.
const fastify = createRequire(path.resolve(__dirname, '../apps/api/package.json'))(
  'fastify',
) as typeof import('../apps/api/node_modules/fastify');
type FastifyInstance = import('../apps/api/node_modules/fastify').FastifyInstance;

interface CallbackBody {
  event_id: string;
  sequence: number;
  type: string;
  status?: string;
  timestamp: string;
  data: unknown;
}

/**
 * Where the baseline writes: the API's events table (its indexes, foreign key and
 * notification trigger), or, for the stricter floor, a copy of it with only a
 * primary key (the cost of the write alone).
 */
const TABLES = { events: 'orchestrator_session_events', floor: CALLBACK_FLOOR_TABLE } as const;

/**
 * The callback benchmark's baseline: a bare Fastify route that stores the same
 * event row with one plain INSERT, on a pool as large as the API's (10), and
 * answers like the API does. No authentication, validation or session update.
 */
async function main(): Promise<void> {
  const table = TABLES[(process.env.BASELINE_TABLE ?? 'events') as keyof typeof TABLES];
  if (!table) throw new Error(`BASELINE_TABLE must be one of ${Object.keys(TABLES).join(', ')}`);
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  const app = fastify({ bodyLimit: 64 * 1024 });
  app.get('/health', async () => ({ status: 'ok' }));
  app.post<{ Params: { sessionId: string }; Body: CallbackBody }>('/orchestrator/callbacks/:sessionId', async (request, reply) => {
    const event = request.body;
    await pool.query(
      `INSERT INTO ${table} (session_id, event_id, sequence, type, status, occurred_at, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        request.params.sessionId,
        event.event_id,
        event.sequence,
        event.type,
        event.status ?? null,
        event.timestamp,
        JSON.stringify(event.data),
      ],
    );
    return reply.code(202).send({ accepted: true, duplicate: false });
  });
  if (process.env.SPAWN_URL)
    addDispatchFloor(
      app,
      pool,
      process.env.SPAWN_URL,
      JSON.parse(process.env.SPAWN_HEADERS ?? '{}') as Record<string, string>,
      process.env.SPAWN_BODY ?? '{}',
    );
  const close = () => void app.close().then(() => pool.end());
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
  await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
}

/**
 * The dispatch benchmark's floor: what a dispatch is made of by construction, and nothing else. A row
 * written before the spawn (one plain INSERT into a table with only a primary key), the spawn itself (the
 * same body to the same stub, on Node's http with a keep-alive agent, the cheapest client), and its answer
 * recorded (one plain UPDATE) before the reply. No authentication, validation, task read, token, serializer,
 * retry, circuit breaker, logging or tracing.
 */
function addDispatchFloor(app: FastifyInstance, pool: Pool, spawnUrl: string, headers: Record<string, string>, body: string): void {
  const agent = new Agent({ keepAlive: true });
  const spawn = () =>
    new Promise<{ session_id: string; status: string }>((resolve, reject) => {
      const outgoing = httpRequest(
        spawnUrl,
        { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { session_id: string; status: string }));
          answer.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  app.post<{ Params: { taskId: string } }>('/tasks/:taskId/dispatch', async (request, reply) => {
    const id = randomUUID();
    await pool.query(`INSERT INTO ${DISPATCH_FLOOR_TABLE} (id, task_id, status) VALUES ($1, $2, 'spawning')`, [id, request.params.taskId]);
    const answer = await spawn();
    await pool.query(`UPDATE ${DISPATCH_FLOOR_TABLE} SET orchestrator_session_id = $2, status = $3, updated_at = now() WHERE id = $1`, [
      id,
      answer.session_id,
      answer.status,
    ]);
    return reply
      .code(202)
      .send({ task_id: request.params.taskId, session: { id, status: answer.status, orchestrator_session_id: answer.session_id } });
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
