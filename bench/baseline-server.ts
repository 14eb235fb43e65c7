import { createRequire } from 'node:module';
import path from 'node:path';
import { Pool } from 'pg';

// The API's own Fastify, so the baseline differs from the API only in what the API adds on top.
const fastify = createRequire(path.resolve(__dirname, '../apps/api/package.json'))(
  'fastify',
) as typeof import('../apps/api/node_modules/fastify');

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
const TABLES = { events: 'orchestrator_session_events', floor: 'bench_floor_events' } as const;

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
      [request.params.sessionId, event.event_id, event.sequence, event.type, event.status ?? null, event.timestamp, JSON.stringify(event.data)],
    );
    return reply.code(202).send({ accepted: true, duplicate: false });
  });
  const close = () => void app.close().then(() => pool.end());
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
  await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
