import { ROOT_CONTEXT } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { Client, escapeIdentifier } from 'pg';
import { PostgresSessionStore } from './postgres-session-store';
import { TEST_STORE_SECRETS, describeSessionStoreBehaviour } from './session-store.behaviour';

function databaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (test/support/global-setup.ts)');
  return url;
}

function uniqueSchema(): string {
  return `session_store_${randomBytes(6).toString('hex')}`;
}

async function query(text: string, values: string[] = []): Promise<unknown[]> {
  const client = new Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
}

describeSessionStoreBehaviour('PostgresSessionStore', async () => {
  const schema = uniqueSchema();
  const store = await PostgresSessionStore.connect({ connectionString: databaseUrl(), schema, secrets: TEST_STORE_SECRETS });
  const sessions = `${escapeIdentifier(schema)}.sessions`;
  return {
    store,
    rawSession: async (id) => JSON.stringify(await query(`SELECT * FROM ${sessions} WHERE id = $1`, [id])),
    copyStoredCallback: async (from, to) => {
      await query(`UPDATE ${sessions} SET callback = (SELECT callback FROM ${sessions} WHERE id = $1) WHERE id = $2`, [from, to]);
    },
    dispose: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
});

describe('PostgresSessionStore on a schema several nodes share', () => {
  const schema = uniqueSchema();
  const nodes: PostgresSessionStore[] = [];

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.close()));
    await dropSchema(schema);
  });

  it('lets nodes that start at once all create or find the schema', async () => {
    nodes.push(
      ...(await Promise.all(
        Array.from({ length: 5 }, () =>
          PostgresSessionStore.connect({ connectionString: databaseUrl(), schema, secrets: TEST_STORE_SECRETS }),
        ),
      )),
    );

    expect(nodes).toHaveLength(5);
  });

  it("accepts every node's cursors on every node", async () => {
    const [first, second] = nodes as [PostgresSessionStore, PostgresSessionStore];
    const callback = { url: 'http://api.test/cb', token: 't', origin: { requestId: 'r', trace: ROOT_CONTEXT } };
    for (const id of ['s1', 's2', 's3']) await first.create({ id, priority: 'normal', callback, taskJson: '{}' }, 10);
    const page = await first.list({ limit: 2 });

    const rest = await second.list({ limit: 2, cursor: page.nextCursor! });

    expect(rest.sessions.map((session) => session.id)).toEqual(['s1']);
  });
});
