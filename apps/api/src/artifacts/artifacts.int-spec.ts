import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { LIMITS, type ArtifactList, type CallbackEvent, artifactCallbackMaxBytes, artifactListSchema } from '@mosaic/orchestrator-contract';
import { OPERATOR_TOKEN, TestApi } from '../../../../test/support/api-app';
import { type SeededSession, progressEvent, seedServicesOf, seedSession } from '../../../../test/support/seed';
import { PrismaService } from '../database/prisma.service';
import { CallbackRepository } from '../callbacks/callback.repository';
import { MAX_ARTIFACTS_IN_FLIGHT } from '../callbacks/callback-ingestion.service';

/** Small, so that a test can go past it without megabytes: the route's body limit follows it. */
const ARTIFACT_MAX_BYTES = 200 * 1024;

describe('artifacts (contract 7.2)', () => {
  let api: TestApi;
  let prisma: PrismaService;

  beforeAll(async () => {
    api = await TestApi.start({ ARTIFACT_MAX_BYTES: String(ARTIFACT_MAX_BYTES) });
    prisma = api.get(PrismaService);
  });

  afterAll(async () => {
    await api?.close();
  });

  const newSession = (status: 'pending' | 'running' = 'running') => seedSession(seedServicesOf(api), { title: 'artifact test', status });

  let sequence = 0;
  function artifactEvent(
    session: SeededSession,
    name: string,
    content: Buffer,
    fields: { media_type?: string; sha256?: string; truncated?: boolean; size?: number; status?: 'completed' } = {},
  ): CallbackEvent {
    const { status, ...data } = fields;
    return progressEvent(session, ++sequence, {
      event_id: randomUUID(),
      type: 'artifact',
      ...(status === undefined ? {} : { status }),
      data: {
        name,
        media_type: 'text/plain',
        size: content.length,
        sha256: sha256(content),
        content_base64: content.toString('base64'),
        ...data,
      },
    } as Partial<CallbackEvent>);
  }

  function send(session: SeededSession, body: unknown) {
    return api.app.inject({
      method: 'POST',
      url: `/orchestrator/callbacks/${session.id}`,
      headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
  }

  const list = (sessionId: string) => api.request<ArtifactList>('GET', `/orchestrator/sessions/${sessionId}/artifacts`);
  const fetchContent = (sessionId: string, name: string) =>
    api.app.inject({
      method: 'GET',
      url: `/orchestrator/sessions/${sessionId}/artifacts/${name}`,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
  const storedRows = (sessionId: string) => prisma.orchestratorSessionArtifact.findMany({ where: { sessionId } });
  const storedEvents = (sessionId: string) =>
    prisma.orchestratorSessionEvent.findMany({
      where: { sessionId },
      orderBy: { id: 'asc' },
      select: { eventId: true, type: true, data: true },
    });

  const patch = Buffer.from('diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b é\n');

  it('stores artifact callbacks, lists them by name, and keeps their events without the content', async () => {
    const session = await newSession();
    const json = Buffer.from('[{"path":"x","status":"modified","additions":1,"deletions":1}]');
    const report = Buffer.from('# done\n');
    const events = [
      artifactEvent(session, 'out/report.md', report, { media_type: 'text/markdown' }),
      artifactEvent(session, 'changes.patch', patch, { media_type: 'text/x-diff' }),
      artifactEvent(session, 'changes.json', json, { media_type: 'application/json' }),
    ];

    for (const event of events) expect((await send(session, event)).statusCode).toBe(202);

    const answer = await list(session.id);
    expect(answer.status).toBe(200);
    expect(artifactListSchema.parse(answer.body)).toEqual(answer.body);
    expect(answer.body.artifacts).toEqual([
      {
        name: 'changes.json',
        media_type: 'application/json',
        size: json.length,
        sha256: sha256(json),
        truncated: false,
        created_at: expect.any(String),
      },
      {
        name: 'changes.patch',
        media_type: 'text/x-diff',
        size: patch.length,
        sha256: sha256(patch),
        truncated: false,
        created_at: expect.any(String),
      },
      {
        name: 'out/report.md',
        media_type: 'text/markdown',
        size: report.length,
        sha256: sha256(report),
        truncated: false,
        created_at: expect.any(String),
      },
    ]);
    const stored = await storedEvents(session.id);
    expect(stored.map((event) => event.type)).toEqual(['artifact', 'artifact', 'artifact']);
    expect(stored[1]!.data).toEqual({
      name: 'changes.patch',
      media_type: 'text/x-diff',
      size: patch.length,
      sha256: sha256(patch),
      truncated: false,
    });
    // The session's event page carries the summary too, never the content.
    const page = await api.request<{ events: { data: Record<string, unknown> }[] }>('GET', `/orchestrator/sessions/${session.id}/events`);
    expect(page.body.events.map((event) => Object.keys(event.data).sort())).toEqual(
      events.map(() => ['media_type', 'name', 'sha256', 'size', 'truncated']),
    );
  });

  it('serves the content byte for byte with its media type, inline only for text, diffs and JSON', async () => {
    const session = await newSession();
    const binary = randomBytes(70 * 1024);
    const html = Buffer.from('<script>alert(1)</script>');
    await send(session, artifactEvent(session, 'changes.patch', patch, { media_type: 'text/x-diff' }));
    await send(session, artifactEvent(session, 'out/data.bin', binary, { media_type: 'application/octet-stream' }));
    await send(session, artifactEvent(session, 'out/page.html', html, { media_type: 'text/html' }));

    const diff = await fetchContent(session.id, 'changes.patch');
    expect(diff.statusCode).toBe(200);
    expect(diff.rawPayload.equals(patch)).toBe(true);
    expect(diff.headers).toMatchObject({
      'content-type': 'text/x-diff; charset=utf-8',
      'content-disposition': 'inline',
      'x-content-type-options': 'nosniff',
      etag: `"${sha256(patch)}"`,
    });
    expect(diff.headers['content-security-policy']).toContain('sandbox');

    const data = await fetchContent(session.id, 'out/data.bin');
    expect(data.statusCode).toBe(200);
    expect(data.rawPayload.equals(binary)).toBe(true);
    expect(data.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-disposition': 'attachment; filename="data.bin"',
      etag: `"${sha256(binary)}"`,
    });

    const page = await fetchContent(session.id, 'out/page.html');
    expect(page.rawPayload.equals(html)).toBe(true);
    expect(page.headers).toMatchObject({
      'content-type': 'text/html',
      'content-disposition': 'attachment; filename="page.html"',
      'x-content-type-options': 'nosniff',
    });
  });

  it('stores a redelivery once, and replaces an artifact sent again under a new event', async () => {
    const session = await newSession();
    const first = artifactEvent(session, 'changes.patch', patch, { media_type: 'text/x-diff' });

    expect((await send(session, first)).json()).toEqual({ accepted: true, duplicate: false });
    expect((await send(session, first)).json()).toEqual({ accepted: true, duplicate: true });
    expect(await storedRows(session.id)).toHaveLength(1);
    expect(await storedEvents(session.id)).toHaveLength(1);

    // An orchestrator that restarted sends its artifacts again, under new event ids.
    const again = Buffer.from('diff --git a/y b/y\n');
    expect((await send(session, artifactEvent(session, 'changes.patch', again, { media_type: 'text/x-diff' }))).statusCode).toBe(202);
    expect((await fetchContent(session.id, 'changes.patch')).rawPayload.equals(again)).toBe(true);
    expect((await list(session.id)).body.artifacts).toEqual([expect.objectContaining({ name: 'changes.patch', sha256: sha256(again) })]);
  });

  it('keeps a truncated artifact’s whole size and says it was cut', async () => {
    const session = await newSession();
    const cut = Buffer.from('the first bytes');

    await send(session, artifactEvent(session, 'out/big.log', cut, { size: 10 * ARTIFACT_MAX_BYTES, truncated: true }));

    expect((await list(session.id)).body.artifacts).toEqual([
      expect.objectContaining({ name: 'out/big.log', size: 10 * ARTIFACT_MAX_BYTES, sha256: sha256(cut), truncated: true }),
    ]);
  });

  it('refuses content that does not have its sha256 with 400 naming data.sha256, storing nothing', async () => {
    const session = await newSession();

    const response = await send(session, artifactEvent(session, 'changes.patch', patch, { sha256: sha256(Buffer.from('other')) }));

    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'bad_request', message: expect.stringContaining('data.sha256') } });
    expect(await storedRows(session.id)).toEqual([]);
    expect(await storedEvents(session.id)).toEqual([]);
  });

  it('takes an artifact up to ARTIFACT_MAX_BYTES, beyond the 64 KiB of other callbacks', async () => {
    const session = await newSession();
    const content = randomBytes(ARTIFACT_MAX_BYTES);
    const event = artifactEvent(session, 'out/max.bin', content, { media_type: 'application/octet-stream' });

    const response = await send(session, event);

    expect(Buffer.byteLength(JSON.stringify(event))).toBeGreaterThan(LIMITS.callbackBodyMaxBytes);
    expect(response.statusCode).toBe(202);
    expect((await fetchContent(session.id, 'out/max.bin')).rawPayload.equals(content)).toBe(true);
  });

  it.each([
    ['a byte over ARTIFACT_MAX_BYTES', ARTIFACT_MAX_BYTES + 1],
    ['over the route’s body limit', artifactCallbackMaxBytes(ARTIFACT_MAX_BYTES)],
  ])('refuses an artifact %s with 413, storing nothing', async (_case, bytes) => {
    const session = await newSession();

    const response = await send(session, artifactEvent(session, 'out/huge.bin', randomBytes(bytes)));

    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({ error: { code: 'payload_too_large', message: expect.any(String) } });
    expect(await storedRows(session.id)).toEqual([]);
    expect(await storedEvents(session.id)).toEqual([]);
  });

  it('still refuses any other callback over 64 KiB with 413, whatever its token', async () => {
    const session = await newSession();
    const log = progressEvent(session, 1, { type: 'log', data: { stream: 'stdout', line: 'x'.repeat(LIMITS.callbackBodyMaxBytes) } });

    const own = await send(session, log);
    const stranger = await send({ ...session, token: 'mcb_not-the-token' }, log);

    expect([own.statusCode, stranger.statusCode]).toEqual([413, 413]);
    expect(own.json()).toEqual({ error: { code: 'payload_too_large', message: expect.any(String) } });
    expect(await storedEvents(session.id)).toEqual([]);
  });

  it('stores an artifact sent after the terminal status, and an artifact never moves the session', async () => {
    const session = await newSession();
    // Sent with a status: an artifact event reports none, whatever it carries.
    await send(session, artifactEvent(session, 'out/early.txt', Buffer.from('early'), { status: 'completed' }));
    expect((await prisma.orchestratorSession.findUniqueOrThrow({ where: { id: session.id } })).status).toBe('running');

    await send(session, progressEvent(session, ++sequence, { type: 'status', status: 'completed', data: {} }));
    const late = await send(session, artifactEvent(session, 'changes.patch', patch, { media_type: 'text/x-diff' }));

    expect(late.statusCode).toBe(202);
    expect((await list(session.id)).body.artifacts.map((artifact) => artifact.name)).toEqual(['changes.patch', 'out/early.txt']);
    expect((await prisma.orchestratorSession.findUniqueOrThrow({ where: { id: session.id } })).status).toBe('completed');
  });

  it('answers 404 for an unknown session or artifact, and an empty list for a session without any', async () => {
    const session = await newSession();
    await send(session, artifactEvent(session, 'changes.patch', patch));

    expect((await list(randomUUID())).status).toBe(404);
    expect((await list('not-a-uuid')).status).toBe(404);
    expect((await fetchContent(randomUUID(), 'changes.patch')).statusCode).toBe(404);
    const missing = await fetchContent(session.id, 'out/missing.txt');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: { code: 'not_found', message: expect.stringContaining('out/missing.txt') } });
    expect((await list((await newSession()).id)).body).toEqual({ artifacts: [] });
  });

  it.each([
    ['a `..` segment, its slashes encoded', 'out%2F..%2Fchanges.patch'],
    ['a leading `..`, its slash encoded', '..%2Fx'],
    ['a space', 'a%20b'],
    ['an empty segment', 'out//x'],
    ['256 characters', 'a'.repeat(256)],
  ])('refuses a name with %s with 400 naming it', async (_case, name) => {
    const session = await newSession();

    const response = await fetchContent(session.id, name);

    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'bad_request', message: expect.stringMatching(/^name: /) } });
  });

  it('refuses a name with a `..` segment sent as it is (clients that do not remove dot segments)', async () => {
    const session = await newSession();
    const base = new URL(await api.listen());

    // Sent on a socket of its own: fetch and inject remove dot segments from a URL before it leaves.
    const answers = await Promise.all(
      ['out/../changes.patch', '..', 'out/./x'].map((name) => rawGet(base, `/orchestrator/sessions/${session.id}/artifacts/${name}`)),
    );

    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400]);
    for (const answer of answers)
      expect(JSON.parse(answer.body)).toEqual({ error: { code: 'bad_request', message: expect.stringMatching(/^name: /) } });
  });

  it('needs an operator token to read artifacts', async () => {
    const session = await newSession();

    const answer = await api.request('GET', `/orchestrator/sessions/${session.id}/artifacts`, { token: null });
    const content = await api.request('GET', `/orchestrator/sessions/${session.id}/artifacts/changes.patch`, { token: null });

    expect([answer.status, content.status]).toEqual([401, 401]);
  });

  it(`answers 503 to artifacts past ${MAX_ARTIFACTS_IN_FLIGHT} being stored at once`, async () => {
    const session = await newSession();
    const others = await Promise.all(Array.from({ length: MAX_ARTIFACTS_IN_FLIGHT }, () => newSession()));
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const record = CallbackRepository.prototype.record;
    const spy = jest.spyOn(CallbackRepository.prototype, 'record').mockImplementation(async function (this: CallbackRepository, ...args) {
      if (args[0].event.type === 'artifact') await held;
      return record.apply(this, args);
    });
    try {
      const waiting = others.map((other) => send(other, artifactEvent(other, 'changes.patch', patch)));
      await new Promise((resolve) => setTimeout(resolve, 50));

      const refused = await send(session, artifactEvent(session, 'changes.patch', patch));
      const progress = await send(session, progressEvent(session, ++sequence));

      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBeDefined();
      expect(progress.statusCode).toBe(202);
      release();
      expect((await Promise.all(waiting)).map((response) => response.statusCode)).toEqual(others.map(() => 202));
    } finally {
      release();
      spy.mockRestore();
    }
    expect((await send(session, artifactEvent(session, 'changes.patch', patch))).statusCode).toBe(202);
  });
});

/** A GET whose path is sent byte for byte as given. */
function rawGet(base: URL, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: base.hostname, port: base.port, path, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
  });
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}
