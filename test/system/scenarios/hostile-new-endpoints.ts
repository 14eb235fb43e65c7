import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { MAX_BODY_DEPTH } from '@mosaic/http-kit';
import {
  LIMITS,
  USAGE_LIMITS,
  callbackEventSchema,
  cancelRequestSchema,
  nestsDeeperThan,
  usageDataSchema,
  validate,
} from '@mosaic/orchestrator-contract';
import { signatureHeaders } from '../../support/callback-signature';
import { eventually } from '../../support/eventually';
import { rawRequest } from '../../support/http';
import {
  CALLBACK_SIGNING_KEY,
  ORCHESTRATOR_KEY,
  OPERATOR_TOKEN,
  call,
  createTask,
  dispatch,
  orchestratorSessions,
  orchestratorStatus,
  query,
  sessionRows,
  waitUntil,
} from '../harness';
import {
  LogReader,
  callbackTokenOf,
  describeStatuses,
  headerValue,
  isContractError,
  signingSecretOf,
  tablesDigest,
  unstorableTexts,
} from '../hostile';
import type { ScenarioBody } from '../report';

/** Every table a hostile request could write to; the sessions' rows carry their usage sums. */
const TABLES = ['tasks', 'orchestrator_sessions', 'orchestrator_session_events', 'operator_keys', 'daily_usage'];
const INT32_MAX = 2_147_483_647;
/** The contract's ranges of the event page's query (section 4). */
const PAGE_QUERY: Record<string, [number, number]> = { after_sequence: [0, INT32_MAX], limit: [1, 1_000] };
const STREAM_QUERY: Record<string, [number, number]> = { after_sequence: [0, INT32_MAX] };
/** Node's limit on a request's head: a URL past it is refused before any route. */
const MAX_HEAD_BYTES = 16 * 1024;
/** The request line's other words and the headers these cases send: a URL within this of the limit may take the head past it. */
const HEAD_BESIDES_URL_BYTES = 1024;
/** Whether a request for `path` is answered 431 for its head, or, near the limit, may be. */
const headTooLarge = (path: string, answer: { status: number; body: string }) =>
  path.length > MAX_HEAD_BYTES - HEAD_BESIDES_URL_BYTES && answer.status === 431 && isContractError(answer.body);
/** What the running session's agent reports per step (three steps), so that its usage sums are not zero. */
const STEP_USAGE = { input_tokens: 1_000, output_tokens: 100 };

interface Answer {
  what: string;
  status: number;
  body: string;
}

/** One part of a query string: a key and a value, percent-encoded as a client would, or raw text no encoder writes. */
type QueryPart = { key: string; value: string } | { raw: string };

/**
 * 20. Hostile input against the endpoints of contract v2: cancel (on the API and directly on the orchestrator),
 * the event pages, both event streams, operator keys, usage callbacks, today's usage and task budgets. Every
 * property runs against a running, a pending (queued) and a completed session; nothing it sends may change the
 * database or the orchestrator's sessions, no answer may be a 5xx or an error outside the contract's shape, and
 * no secret may reach a log line. Control requests at the end show each valid path still works.
 */
export const hostileInputAgainstNewEndpoints: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  // Capacity 1: while the long session runs, a third one waits in the queue, and faces the hostile cancels as `pending`.
  const orchestrator = await h.orchestrator({ env: { MAX_CONCURRENT_SESSIONS: '1' } });
  // Records the spawn requests, which carry each session's callback signing secret as the orchestrator received it.
  const spawns = await h.proxy(orchestrator.port);
  // No reconciliation run: its refreshes would write to the database this scenario proves unchanged. The completed
  // session's callback token stays valid throughout (its grace after the end, 5 minutes by default, an hour here),
  // so that its hostile usage reports are refused for their data, however long the properties take on a busy machine.
  const api = await h.api({
    databaseUrl,
    orchestratorUrl: spawns.url,
    env: { RECONCILE_INTERVAL_MS: '3600000', CALLBACK_TOKEN_TERMINAL_GRACE_MS: '3600000' },
  });
  const runs = Number(process.env.SYSTEM_FUZZ_RUNS ?? 150);

  const completed = (await dispatch(api, await createTask(api, { sample_agent: { steps: 1, step_ms: 10 } }))).body.session;
  await waitUntil(
    'first session completed',
    async () => (await sessionRows(databaseUrl)).some((row) => row.id === completed.id && row.status === 'completed'),
    15_000,
  );
  // Alive until the control cancel at the end, however long the properties take on a busy machine.
  const running = (
    await dispatch(
      api,
      await createTask(api, { sample_agent: { steps: 3, step_ms: 10, duration_ms: 170_000, usage_per_step: STEP_USAGE } }),
    )
  ).body.session;
  const pending = (await dispatch(api, await createTask(api, { sample_agent: { steps: 1, step_ms: 10 } }))).body.session;
  expect(pending.status).toBe('pending');
  await waitUntil(
    'running session reported its usage',
    async () => {
      const [row] = await query<{ status: string; input_tokens: string }>(
        databaseUrl,
        'SELECT status::text AS status, input_tokens::text FROM orchestrator_sessions WHERE id = $1',
        [running.id],
      );
      return row.status === 'running' && Number(row.input_tokens) === 3 * STEP_USAGE.input_tokens;
    },
    20_000,
  );

  const operatorKey = await call<{ key: string }>(api.service.url, 'POST', '/operator-keys', {
    name: 'hostile operator',
    scopes: ['read', 'dispatch', 'stop'],
  });
  expect(operatorKey.status).toBe(201);
  let controls = 1;
  // The administrator's token or an operator key with every scope: the hostile input is what varies, not the credential.
  const credential = fc.constantFrom(OPERATOR_TOKEN, operatorKey.body.key).map((token) => ({ authorization: `Bearer ${token}` }));
  const orchestratorAuth = { authorization: `Bearer ${ORCHESTRATOR_KEY}` };

  // The agents have gone quiet once a second passes without a write (held-back output goes out within 250 ms).
  let before = await tablesDigest(databaseUrl, TABLES);
  await sleep(1_000);
  await eventually(
    async () => {
      const now = await tablesDigest(databaseUrl, TABLES);
      const quiet = now === before;
      before = now;
      if (!quiet) throw new Error('the database is still being written to');
    },
    15_000,
    1_000,
  );
  const rows = await sessionRows(databaseUrl);
  const orchestratorIdOf = (id: string) => rows.find((row) => row.id === id)!.orchestrator_session_id!;
  const apiIds = [running.id, pending.id, completed.id];
  const orchestratorIds = apiIds.map(orchestratorIdOf);
  expect(rows.map((row) => [row.id, row.status])).toEqual([
    [completed.id, 'completed'],
    [running.id, 'running'],
    [pending.id, 'pending'],
  ]);
  const orchestratorBefore = JSON.stringify(await orchestratorSessions(orchestrator));
  const usageBefore = await call<{ input_tokens: number; output_tokens: number; cost_usd: number }>(api.service.url, 'GET', '/usage/today');
  controls += 1;
  expect(usageBefore.status).toBe(200);
  const tokens = new Map([running.id, completed.id].map((id) => [id, callbackTokenOf(api.callbacks, id)]));
  expect([...tokens.values()].every((token) => token.length > 20)).toBe(true);
  const signingSecrets = new Map(apiIds.map((id) => [id, signingSecretOf(spawns, id)]));

  // Searched in every log line of both services, without their prefixes (whsec_, mk_), so that one printed bare is found too.
  const secretsKnown = async (): Promise<string[]> => [
    OPERATOR_TOKEN,
    ORCHESTRATOR_KEY,
    CALLBACK_SIGNING_KEY,
    operatorKey.body.key.slice('mk_'.length),
    ...tokens.values(),
    ...[...signingSecrets.values()].map((secret) => secret.slice('whsec_'.length)),
    ...(
      await query<{ hash: string }>(
        databaseUrl,
        'SELECT key_hash AS hash FROM operator_keys UNION ALL SELECT callback_token_hash FROM orchestrator_sessions',
      )
    ).map((row) => row.hash),
  ];
  let secrets = await secretsKnown();
  const logs = new LogReader([api.service, orchestrator.service]);
  logs.read(secrets);
  const check = async <Ts extends unknown[]>(property: fc.IAsyncProperty<Ts>) => {
    await fc.assert(property, { numRuns: runs });
    logs.read(secrets);
  };

  const answers: Answer[] = [];
  const send = async (what: string, port: number, method: string, path: string, headers: Record<string, string>, body?: string) => {
    const answer = await rawRequest(port, method, path, headers, body);
    answers.push({ what, ...answer });
    return answer;
  };
  const stream = async (what: string, path: string, headers: Record<string, string>) => {
    const answer = await openBriefly(api.port, path, headers, 10_000);
    answers.push({ what, status: answer.status, body: answer.body });
    return answer;
  };
  const messageOf = (body: string) => (JSON.parse(body) as { error: { message: string } }).error.message;
  const refusal = (answer: { status: number; body: string }, status: number) => answer.status === status && isContractError(answer.body);

  // Bodies a cancel must refuse: grace_ms of every wrong type and range, extra fields, no object at all, huge
  // (past 256 KiB: 413), nested up to 50,000 levels, text that is no JSON, and other content types. Never JSON
  // null, which, like no body, asks for the orchestrator's default grace.
  const wrongGrace = fc.oneof(
    fc.integer({ max: -1 }),
    fc.integer({ min: LIMITS.cancelGraceMaxMs + 1 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((value) => !Number.isInteger(value)),
    fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, 1e21, -1e-9),
    fc.string({ maxLength: 20 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.nat()),
    fc.object({ maxDepth: 2 }),
  );
  const extraFields = fc.dictionary(
    fc.string({ minLength: 1, maxLength: 20 }).filter((key) => key !== 'grace_ms' && !isPrototypeKey(key)),
    fc.jsonValue({ maxDepth: 2 }),
    { minKeys: 1, maxKeys: 3 },
  );
  const cancelText = fc
    .oneof(
      wrongGrace.map((grace) => JSON.stringify({ grace_ms: grace })),
      fc
        .record({ extra: extraFields, grace: fc.option(fc.integer({ min: 0, max: LIMITS.cancelGraceMaxMs }), { nil: undefined }) })
        .map(({ extra, grace }) => JSON.stringify({ ...extra, grace_ms: grace })),
      fc
        .oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.array(fc.jsonValue({ maxDepth: 2 })))
        .map((value) => JSON.stringify(value)),
      fc
        .record({ size: fc.integer({ min: 1_000, max: 300_000 }), how: fc.constantFrom('string', 'padding', 'array') })
        .map(({ size, how }) =>
          how === 'string'
            ? JSON.stringify({ grace_ms: 'x'.repeat(size) })
            : how === 'padding'
              ? JSON.stringify({ grace_ms: 1_000, padding: 'x'.repeat(size) })
              : `{"grace_ms":[${'1,'.repeat(size / 2)}1]}`,
        ),
      fc.integer({ min: 1, max: 50_000 }).map((depth) => `{"grace_ms":${'['.repeat(depth)}${']'.repeat(depth)}}`),
      fc.constantFrom(
        '',
        ' ',
        '{"grace_ms":',
        '{"grace_ms":1e400}',
        '{"grace_ms":NaN}',
        '{"grace_ms":0x10}',
        '{grace_ms:1}',
        "{'grace_ms':1}",
        '{"grace_ms":1}}',
        '{"grace_ms":"5000"}',
        '{"__proto__":{"grace_ms":1}}',
        '{"constructor":{"prototype":{"grace_ms":1}}}',
      ),
    )
    .filter((text) => {
      const parsed = parseJson(text);
      return parsed === undefined || (parsed.value !== null && !cancelRequestSchema.safeParse(parsed.value).success);
    });
  // An empty body of another type than JSON is no body, which asks for the default grace: not sent.
  const cancelBody = fc
    .record({
      text: cancelText,
      contentType: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
        { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/octet-stream') },
      ),
    })
    .filter(({ text, contentType }) => contentType.startsWith('application/json') || text.trim() !== '');
  /**
   * How a service refuses a cancel body: its status, and its message when the contract's validation writes it;
   * undefined for a body it takes.
   */
  const cancelVerdict = ({
    text,
    contentType,
  }: {
    text: string;
    contentType: string;
  }): { status: number; message?: string } | undefined => {
    // No parser for the type: refused before the body is read.
    if (contentType === 'application/octet-stream') return { status: 415 };
    if (Buffer.byteLength(text) > LIMITS.spawnBodyMaxBytes) return { status: 413 };
    // A text body reaches the validation as a string.
    const parsed = contentType === 'text/plain' ? { value: text } : parseJson(text);
    // Unparsable, or a prototype key the server's parser refuses: Fastify's own message says why.
    if (parsed === undefined || /__proto__|constructor/.test(text)) return { status: 400 };
    if (nestsDeeperThan(parsed.value, MAX_BODY_DEPTH)) return { status: 400, message: `body nests deeper than ${MAX_BODY_DEPTH} levels` };
    const result = validate(cancelRequestSchema, parsed.value);
    return result.ok ? undefined : { status: 400, message: result.message };
  };
  const judgeCancel = (answer: { status: number; body: string }, body: { text: string; contentType: string }) => {
    const verdict = cancelVerdict(body);
    return (
      verdict !== undefined &&
      refusal(answer, verdict.status) &&
      (verdict.message === undefined || messageOf(answer.body) === verdict.message)
    );
  };
  // Query strings the cancel endpoints ignore: they change nothing, with a body refused or not.
  const cancelQuery = fc.option(queryString(fc.constantFrom('grace_ms', 'force', 'status')), { nil: undefined });
  const withQuery = (path: string, search: { text: string } | undefined) => (search === undefined ? path : `${path}?${search.text}`);

  // API cancel, hostile bodies: on the running, the pending and the completed session (by their id in capitals
  // too, which names them all the same), each refused with a 400 naming the field (413 past the body limit, 415
  // for a type no parser takes).
  await check(
    fc.asyncProperty(
      fc.constantFrom(...apiIds, running.id.toUpperCase()),
      cancelBody,
      cancelQuery,
      credential,
      async (id, body, search, auth) => {
        const answer = await send(
          'API cancel, hostile body',
          api.port,
          'POST',
          withQuery(`/orchestrator/sessions/${id}/cancel`, search),
          { ...auth, 'content-type': body.contentType },
          body.text,
        );
        return judgeCancel(answer, body);
      },
    ),
  );

  // Ids no session has: unknown UUIDs, near misses of the real ones, text of any kind (NUL and other control
  // characters, unicode), percent-encoding that is no UTF-8 (400), ids past the router's 100 characters (414);
  // with a valid body, an absent one or a hostile one.
  const someBody = fc.oneof(
    fc.constant(undefined),
    fc
      .option(fc.integer({ min: 0, max: LIMITS.cancelGraceMaxMs }), { nil: undefined })
      .map((grace) => ({ text: JSON.stringify({ grace_ms: grace }), contentType: 'application/json' })),
    cancelBody,
  );
  const hostileId = (realIds: string[]) =>
    fc
      .oneof(
        fc.uuid(),
        fc
          .record({ id: fc.constantFrom(...realIds), at: fc.nat(), how: fc.constantFrom('changed', 'cut', 'extended', 'suffixed') })
          .map(({ id, at, how }) => {
            const index = at % id.length;
            if (how === 'changed') return id.slice(0, index) + (id[index] === 'a' ? 'b' : 'a') + id.slice(index + 1);
            if (how === 'cut') return id.slice(0, index);
            if (how === 'extended') return `${id}${'0123456789abcdef'[at % 16]}`;
            return `${id}${['%00', '%20', '%0A', '.json', '%2F', '%3Fx=1', '%C3%A9'][at % 7]}`;
          }),
        fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 }).map(encodeURIComponent),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(encodeURIComponent),
        fc.constantFrom('%00', '%ED%A0%80', '%E0%A4%A', '%', '%ZZ', '%C0%AF', '%FF'),
        fc.integer({ min: 101, max: 4_000 }).map((length) => 'a'.repeat(length)),
      )
      .filter((id) => id !== '' && !/^\.+$/.test(id) && !realIds.some((real) => real === decodedSegment(id)?.toLowerCase()));
  // A refused body may be judged before or after the id; a segment past 100 characters (as the router counts them) is a 414.
  const judgeUnknownId = (
    answer: { status: number; body: string },
    id: string,
    body: { text: string; contentType: string } | undefined,
  ) => {
    if (!isContractError(answer.body)) return false;
    if (decodedSegment(id) === undefined) return answer.status === 400;
    const refused = body === undefined ? undefined : cancelVerdict(body);
    return [404, ...(id.length > 100 ? [414] : []), ...(refused === undefined ? [] : [refused.status])].includes(answer.status);
  };
  await check(
    fc.asyncProperty(hostileId(apiIds), someBody, cancelQuery, credential, async (id, body, search, auth) => {
      const headers = { ...auth, ...(body === undefined ? {} : { 'content-type': body.contentType }) };
      const answer = await send(
        'API cancel, unknown id',
        api.port,
        'POST',
        withQuery(`/orchestrator/sessions/${id}/cancel`, search),
        headers,
        body?.text,
      );
      return judgeUnknownId(answer, id, body);
    }),
  );

  // The orchestrator's own cancel, with its API key: the same bodies on its three sessions, then ids it does not
  // have (its ids are opaque text: a real one in capitals is another id).
  await check(
    fc.asyncProperty(fc.constantFrom(...orchestratorIds), cancelBody, cancelQuery, async (id, body, search) => {
      const answer = await send(
        'orchestrator cancel, hostile body',
        orchestrator.port,
        'POST',
        withQuery(`/orchestrator/sessions/${id}/cancel`, search),
        { ...orchestratorAuth, 'content-type': body.contentType },
        body.text,
      );
      return judgeCancel(answer, body);
    }),
  );
  await check(
    fc.asyncProperty(
      fc.oneof(
        hostileId(orchestratorIds),
        fc.constantFrom(...orchestratorIds).map((id) => id.toUpperCase()),
      ),
      someBody,
      async (id, body) => {
        const headers = { ...orchestratorAuth, ...(body === undefined ? {} : { 'content-type': body.contentType }) };
        const answer = await send(
          'orchestrator cancel, unknown id',
          orchestrator.port,
          'POST',
          `/orchestrator/sessions/${id}/cancel`,
          headers,
          body?.text,
        );
        return judgeUnknownId(answer, id, body);
      },
    ),
  );
  expect(await orchestratorStatus(orchestrator, orchestratorIdOf(running.id))).toMatchObject({ status: 'running' });

  // Event pages: after_sequence and limit negative, huge, fractional, in hex, binary, octal or exponent notation,
  // in other scripts' digits, empty, repeated (an array), beside unknown parameters or raw text no encoder writes;
  // on the three sessions, an unknown one and ids no session can have. An integer is decimal digits (as in the
  // orchestrator's own queries, `queryInteger`): `0x10`, `0o0`, `1e2` or ` 5`, like anything not an integer in the
  // range, is a 400 naming the parameter. A URL past Node's 16 KiB is refused (431) before any route.
  const pageTarget = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...apiIds, randomUUID()) },
    { weight: 1, arbitrary: hostileId(apiIds) },
  );
  await check(
    fc.asyncProperty(pageTarget, queryString(fc.constantFrom('after_sequence', 'limit'), true), credential, async (id, search, auth) => {
      const path = `/orchestrator/sessions/${id}/events?${search.text}`;
      const answer = await send('API event page, hostile query', api.port, 'GET', path, auth);
      if (path.length > MAX_HEAD_BYTES) return refusal(answer, 431);
      if (headTooLarge(path, answer)) return true;
      if (!apiIds.includes(id)) return judgeUnknownTarget(answer, id, queryVerdict(search.parts, PAGE_QUERY));
      const verdict = queryVerdict(search.parts, PAGE_QUERY);
      if (verdict === undefined) return answer.status === 200 || refusal(answer, 400);
      if (verdict !== 'valid') return refusal(answer, 400) && messageOf(answer.body).includes(verdict);
      if (answer.status !== 200) return false;
      const page = JSON.parse(answer.body) as { events: { sequence: number }[]; next_after_sequence: number | null };
      const { after_sequence: after = 0, limit = 200 } = Object.fromEntries(
        (search.parts as { key: string; value: string }[]).map((part) => [part.key, Number(part.value)]),
      );
      return (
        page.events.length <= limit &&
        page.events.every((event, index) => event.sequence > after && (index === 0 || event.sequence >= page.events[index - 1].sequence))
      );
    }),
  );

  // A session's event stream: hostile Last-Event-ID headers (signs, fractions, hex, letters, past int32, unicode
  // digits as UTF-8 bytes) and after_sequence queries. Either the 400 (404 for an unknown session) in the error
  // shape, or a stream, open at once and closed by the client at its first bytes.
  const lastEventId = fc.oneof(
    fc.integer({ min: 0, max: INT32_MAX }).map(String),
    fc.record({ id: fc.nat(), pad: fc.constantFrom('0', '00', ' ', '\t') }).map(({ id, pad }) => `${pad}${id}${pad === '\t' ? pad : ''}`),
    numeral().map(latin1Header),
    headerValue,
  );
  await check(
    fc.asyncProperty(
      pageTarget,
      fc.option(lastEventId, { nil: undefined }),
      fc.option(queryString(fc.constantFrom('after_sequence'), true), { nil: undefined }),
      credential,
      async (id, header, search, auth) => {
        const path = withQuery(`/orchestrator/sessions/${id}/events/stream`, search);
        const answer = await stream('API session event stream, hostile resume', path, {
          ...auth,
          ...(header === undefined ? {} : { 'last-event-id': header }),
        });
        if (path.length > MAX_HEAD_BYTES) return refusal(answer, 431);
        if (headTooLarge(path, answer)) return true;
        const queryOk = search === undefined ? 'valid' : queryVerdict(search.parts, STREAM_QUERY);
        const headerOk = header === undefined || (/^\d{1,10}$/.test(header.trim()) && Number(header) <= INT32_MAX);
        const verdict = queryOk !== 'valid' ? queryOk : headerOk ? 'valid' : 'Last-Event-ID';
        if (!apiIds.includes(id)) return judgeUnknownTarget(answer, id, verdict);
        if (verdict === undefined) return isStream(answer) || refusal(answer, 400);
        return verdict === 'valid' ? isStream(answer) : refusal(answer, 400) && messageOf(answer.body).includes(verdict);
      },
    ),
  );

  // The stream of every session's changes takes no query and no resume: whatever they hold, a stream opens.
  const anyHeaders = fc.dictionary(
    fc.constantFrom(
      'last-event-id',
      'accept',
      'cache-control',
      'if-none-match',
      'range',
      'accept-encoding',
      'accept-language',
      'x-forwarded-for',
      'x-request-id',
      'traceparent',
      'tracestate',
      'cookie',
      'origin',
    ),
    fc.oneof(headerValue, numeral().map(latin1Header)),
    { maxKeys: 4 },
  );
  await check(
    fc.asyncProperty(
      fc.option(queryString(fc.constantFrom('after_sequence', 'status', 'session_id')), { nil: undefined }),
      anyHeaders,
      credential,
      async (search, headers, auth) => {
        const answer = await stream('API sessions stream, hostile query and headers', withQuery('/orchestrator/events/stream', search), {
          ...headers,
          ...auth,
        });
        return isStream(answer);
      },
    ),
  );

  // Operator keys, made by the administrator: names empty, over 100 characters, with control characters, a NUL
  // or an unpaired surrogate, of other types or missing; scopes unknown, duplicated beside a wrong one, more than
  // three, empty, of other types or missing; expiry fields (the contract has none) and other unknown fields;
  // bodies that are no object. Each a 400 whose message names the field.
  const controlText = fc
    .tuple(
      fc.string({ maxLength: 10 }),
      fc.constantFrom(...'\u0001\u0007\u0008\u0009\u000a\u000d\u001b\u007f\u0085\u009b'),
      fc.string({ maxLength: 10 }),
    )
    .map((parts) => parts.join(''));
  const wrongName = fc.oneof(
    fc.constant(''),
    fc.string({ minLength: 101, maxLength: 5_000 }),
    controlText,
    unstorableTexts,
    fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.object({ maxDepth: 1 })),
  );
  const wrongScopes = fc.oneof(
    fc.array(
      fc.string().filter((scope) => !['read', 'dispatch', 'stop'].includes(scope)),
      { minLength: 1, maxLength: 3 },
    ),
    fc
      .record({ scope: fc.constantFrom('read', 'dispatch', 'stop'), other: fc.constantFrom('admin', 'READ', 'read ', '*', '', 'write') })
      .map(({ scope, other }) => [scope, scope, other]),
    fc.array(fc.constantFrom('read', 'dispatch', 'stop'), { minLength: 4, maxLength: 20 }),
    fc.constant([]),
    fc.oneof(
      fc.constantFrom('read', 'read,stop', 'read dispatch'),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.object({ maxDepth: 1 }),
      fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.constant('read'))), { minLength: 1, maxLength: 3 }),
    ),
  );
  const hostileKey = fc.oneof(
    wrongName.map((name) => ({ field: 'name', body: JSON.stringify({ name, scopes: ['read'] }) })),
    fc.constant({ field: 'name', body: JSON.stringify({ scopes: ['read'] }) }),
    wrongScopes.map((scopes) => ({ field: 'scopes', body: JSON.stringify({ name: 'hostile key', scopes }) })),
    fc.constant({ field: 'scopes', body: JSON.stringify({ name: 'hostile key' }) }),
    fc
      .record({
        field: fc.constantFrom('expires_at', 'expires_in', 'expiry', 'ttl', 'revoked_at', 'key', 'id'),
        value: fc.jsonValue({ maxDepth: 1 }),
      })
      .map(({ field, value }) => ({ field, body: JSON.stringify({ name: 'hostile key', scopes: ['read'], [field]: value }) })),
    extraFields
      .filter((extra) => !('name' in extra) && !('scopes' in extra))
      .map((extra) => ({ field: Object.keys(extra)[0], body: JSON.stringify({ name: 'hostile key', scopes: ['read'], ...extra }) })),
    fc
      .oneof(fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 3 }))
      .map((value) => ({ field: 'name', body: JSON.stringify(value) })),
  );
  await check(
    fc.asyncProperty(hostileKey, async ({ field, body }) => {
      const answer = await send(
        'POST /operator-keys, hostile body',
        api.port,
        'POST',
        '/operator-keys',
        { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
        body,
      );
      return refusal(answer, 400) && messageOf(answer.body).includes(`${field}: `);
    }),
  );

  // Usage callbacks with the session's valid token and signature (the running session, and the completed one
  // within its token's grace): counts negative, fractional, past the per-report limit, strings, numbers JSON
  // cannot carry; cost negative, past the limit, NaN or infinite as text or as 1e400; model empty, past 200
  // characters, unstorable or no string; unknown fields; no count at all; no object. Each a 400 whose message is
  // the contract's validation message, naming the field in `data`. A model of control characters the contract
  // takes (it is the agent's text): sent beside a wrong count, it must not get the count stored.
  const usage = { input_tokens: 10, output_tokens: 5, cost_usd: 0.01, model: 'hostile-model' };
  const wrongCount = fc.oneof(
    fc.integer({ max: -1 }),
    fc.integer({ min: USAGE_LIMITS.tokensPerReport + 1 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((value) => !Number.isInteger(value)),
    fc.constantFrom(1e21, 2 ** 53 + 2, 'NaN', 'Infinity', '-1', '1e3', '10'),
    fc.oneof(
      fc.string({ maxLength: 10 }),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.nat(), { maxLength: 3 }),
      fc.object({ maxDepth: 1 }),
    ),
  );
  const wrongCost = fc.oneof(
    fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
    fc.double({ min: USAGE_LIMITS.costUsdPerReport, minExcluded: true, noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom('NaN', 'Infinity', '-Infinity', '0.5', '1e400'),
    fc.oneof(fc.boolean(), fc.constant(null), fc.array(fc.double({ noNaN: true }), { maxLength: 2 })),
  );
  const wrongModel = fc.oneof(
    fc.constant(''),
    fc.string({ minLength: 201, maxLength: 5_000 }),
    unstorableTexts,
    fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 })),
  );
  const usageText = fc
    .oneof(
      fc
        .record({ field: fc.constantFrom('input_tokens', 'output_tokens'), value: wrongCount })
        .map(({ field, value }) => JSON.stringify({ ...usage, [field]: value })),
      wrongCost.map((cost) => JSON.stringify({ ...usage, cost_usd: cost })),
      fc.constantFrom('1e400', '-1e400').map((cost) => JSON.stringify(usage).replace('"cost_usd":0.01', `"cost_usd":${cost}`)),
      wrongModel.map((model) => JSON.stringify({ ...usage, model })),
      fc
        .record({ model: controlText, count: wrongCount })
        .map(({ model, count }) => JSON.stringify({ ...usage, model, input_tokens: count })),
      fc
        .dictionary(
          fc.string({ minLength: 1, maxLength: 20 }).filter((key) => !(key in usage) && !isPrototypeKey(key)),
          fc.jsonValue({ maxDepth: 2 }),
          { minKeys: 1, maxKeys: 3 },
        )
        .map((extra) => JSON.stringify({ ...usage, ...extra })),
      fc.option(fc.string({ minLength: 1, maxLength: 200 }), { nil: undefined }).map((model) => JSON.stringify({ model })),
      fc
        .oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.array(fc.nat(), { maxLength: 3 }), fc.constant(null))
        .map((value) => JSON.stringify(value)),
    )
    .filter((text) => !usageDataSchema.safeParse(JSON.parse(text)).success);
  let sequence = 1_000;
  await check(
    fc.asyncProperty(fc.constantFrom(running.id, completed.id), usageText, async (id, data) => {
      sequence += 1;
      const eventId = randomUUID();
      const text = `{"event_id":"${eventId}","session_id":"${orchestratorIdOf(id)}","sequence":${sequence},"type":"usage","timestamp":"${new Date().toISOString()}","data":${data}}`;
      const answer = await send(
        'usage callback, hostile data',
        api.port,
        'POST',
        `/orchestrator/callbacks/${id}`,
        {
          authorization: `Bearer ${tokens.get(id)}`,
          'content-type': 'application/json',
          ...signatureHeaders(signingSecrets.get(id)!, eventId, text),
        },
        text,
      );
      // Fastify's JSON parser refuses a prototype key at any depth (a wrong count may be an object with one) before validation.
      if (hasPrototypeKey(JSON.parse(data))) return refusal(answer, 400);
      const expected = validate(callbackEventSchema, JSON.parse(text));
      return refusal(answer, 400) && !expected.ok && expected.message.startsWith('data') && messageOf(answer.body) === expected.message;
    }),
  );

  // Today's usage with hostile query strings and headers: the same figures, or a refusal in the error shape.
  await check(
    fc.asyncProperty(
      fc.option(queryString(fc.constantFrom('day', 'date', 'model', 'tz')), { nil: undefined }),
      anyHeaders,
      credential,
      async (search, headers, auth) => {
        const answer = await send('GET /usage/today, hostile query and headers', api.port, 'GET', withQuery('/usage/today', search), {
          ...headers,
          ...auth,
        });
        return answer.status === 200
          ? JSON.stringify(JSON.parse(answer.body)) === JSON.stringify(usageBefore.body)
          : answer.status < 500 && isContractError(answer.body);
      },
    ),
  );

  // Task budgets: no object; each limit zero, negative, fractional where whole, past its maximum, a cost with more
  // than 6 decimals (1e-7 included, which JavaScript writes without a decimal point), of another type; unknown
  // fields. Each a 400 naming the field, no task created. (JSON null stands for no limit, as the API's answers write it.)
  const wrongPositive = (max: number, whole: boolean) =>
    fc.oneof(
      fc.constantFrom(0, -1, max * 10),
      fc.integer({ max: 0 }),
      fc.double({ min: max, minExcluded: true, noNaN: true, noDefaultInfinity: true }),
      ...(whole ? [fc.double({ min: 0, max, noNaN: true }).filter((value) => !Number.isInteger(value))] : []),
      fc.oneof(fc.string({ maxLength: 10 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 2 }), fc.object({ maxDepth: 1 })),
    );
  const hostileBudget = fc.oneof(
    fc
      .oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.array(fc.nat(), { maxLength: 3 }))
      .map((budget) => ({ field: 'budget', budget })),
    wrongPositive(1e12, true).map((value) => ({ field: 'budget.max_tokens', budget: { max_tokens: value } })),
    fc
      .oneof(
        wrongPositive(1e9, false),
        fc.constantFrom(1e-7, 5e-8, 1.5e-7, 0.1234567, 1e-300),
        fc.integer({ min: 1, max: 1e6 }).map((micro) => micro / 1e6 + 1e-8),
      )
      .map((value) => ({ field: 'budget.max_cost_usd', budget: { max_cost_usd: value } })),
    wrongPositive(INT32_MAX, true).map((value) => ({ field: 'budget.max_duration_s', budget: { max_duration_s: value } })),
    fc
      .record({
        key: fc
          .string({ minLength: 1, maxLength: 20 })
          .filter((key) => !['max_tokens', 'max_cost_usd', 'max_duration_s'].includes(key) && !isPrototypeKey(key)),
        value: fc.jsonValue({ maxDepth: 1 }),
      })
      .map(({ key, value }) => ({ field: `budget.${key}`, budget: { max_tokens: 1_000, [key]: value } })),
  );
  await check(
    fc.asyncProperty(hostileBudget, credential, async ({ field, budget }, auth) => {
      const answer = await send(
        'POST /tasks, hostile budget',
        api.port,
        'POST',
        '/tasks',
        { ...auth, 'content-type': 'application/json' },
        JSON.stringify({ title: 'hostile budget', budget }),
      );
      return refusal(answer, 400) && messageOf(answer.body).includes(`${field}: `);
    }),
  );

  const serverErrors = answers.filter((answer) => answer.status >= 500);
  expect(serverErrors.slice(0, 5)).toEqual([]);
  expect(answers.filter((answer) => answer.status >= 400 && !isContractError(answer.body)).slice(0, 5)).toEqual([]);
  expect(await tablesDigest(databaseUrl, TABLES)).toBe(before);
  expect(JSON.stringify(await orchestratorSessions(orchestrator))).toBe(orchestratorBefore);

  // Controls: each valid path works, after the proof that nothing above changed anything.
  const control = async <T>(what: string, method: string, path: string, body: unknown, status: number) => {
    const answer = await call<T>(api.service.url, method, path, body);
    controls += 1;
    expect([what, answer.status]).toEqual([what, status]);
    return answer.body;
  };
  const spent = { input_tokens: 7, output_tokens: 3, cost_usd: 0.5, model: 'control-model' };
  const eventId = randomUUID();
  const usageEvent = JSON.stringify({
    event_id: eventId,
    session_id: orchestratorIdOf(running.id),
    sequence: sequence + 1,
    type: 'usage',
    timestamp: new Date().toISOString(),
    data: spent,
  });
  const stored = await rawRequest(
    api.port,
    'POST',
    `/orchestrator/callbacks/${running.id}`,
    {
      authorization: `Bearer ${tokens.get(running.id)}`,
      'content-type': 'application/json',
      ...signatureHeaders(signingSecrets.get(running.id)!, eventId, usageEvent),
    },
    usageEvent,
  );
  controls += 1;
  expect([stored.status, JSON.parse(stored.body)]).toEqual([202, { accepted: true, duplicate: false }]);
  expect(await control('usage today after a valid report', 'GET', '/usage/today', undefined, 200)).toMatchObject({
    input_tokens: usageBefore.body.input_tokens + spent.input_tokens,
    output_tokens: usageBefore.body.output_tokens + spent.output_tokens,
    cost_usd: Math.round((usageBefore.body.cost_usd + spent.cost_usd) * 1e6) / 1e6,
  });
  expect(
    await control<{ usage: unknown }>(
      'the running session after a valid report',
      'GET',
      `/orchestrator/sessions/${running.id}`,
      undefined,
      200,
    ),
  ).toMatchObject({
    usage: {
      input_tokens: 3 * STEP_USAGE.input_tokens + spent.input_tokens,
      output_tokens: 3 * STEP_USAGE.output_tokens + spent.output_tokens,
    },
  });
  // Scopes given twice count once: the API takes them as a set.
  const controlKey = await control<{ key: string; scopes: string[] }>(
    'a valid operator key',
    'POST',
    '/operator-keys',
    { name: 'control key', scopes: ['read', 'read', 'stop'] },
    201,
  );
  expect(controlKey.scopes).toEqual(['read', 'stop']);
  expect(
    await control(
      'a task with a valid budget',
      'POST',
      '/tasks',
      { title: 'control budget', budget: { max_tokens: 1_000, max_cost_usd: 0.000001, max_duration_s: 60 } },
      201,
    ),
  ).toMatchObject({
    budget: { max_tokens: 1_000, max_cost_usd: 0.000001, max_duration_s: 60 },
  });
  // The pending one first: cancelling the running one frees the slot it waits for.
  expect(await control('cancel of the pending session', 'POST', `/orchestrator/sessions/${pending.id}/cancel`, {}, 200)).toMatchObject({
    status: 'cancelled',
  });
  expect(
    await control('cancel of the running session', 'POST', `/orchestrator/sessions/${running.id}/cancel`, { grace_ms: 5_000 }, 200),
  ).toMatchObject({ status: 'cancelled' });
  expect(await control('cancel of the completed session', 'POST', `/orchestrator/sessions/${completed.id}/cancel`, {}, 200)).toMatchObject({
    status: 'completed',
  });
  expect((await sessionRows(databaseUrl)).map((row) => [row.id, row.status])).toEqual([
    [completed.id, 'completed'],
    [running.id, 'cancelled'],
    [pending.id, 'cancelled'],
  ]);
  await h.assertNoAgentsLeft(10_000);

  const keys = await query<{ name: string }>(databaseUrl, 'SELECT name FROM operator_keys');
  expect(keys.map((key) => key.name).sort()).toEqual(['control key', 'hostile operator']);
  secrets = [...(await secretsKnown()), controlKey.key.slice('mk_'.length)];
  logs.read(secrets);
  expect(logs.leaked()).toEqual([]);

  const properties = [...new Set(answers.map((answer) => answer.what))];
  report({
    load: '1 running, 1 pending (queued) and 1 completed session on one node of capacity 1',
    faults: 'hostile requests only',
    inputs: `${answers.length} requests: ${runs} fast-check runs each of ${properties.length} properties (${properties.join('; ')}); besides, ${controls} control requests that are not counted here`,
    sent: answers.length,
    stored: 0,
    lost: 0,
    duplicated: 0,
    notes: `answers by status: ${describeStatuses(answers.map((answer) => answer.status))}; per property: ${properties.map((what) => `${what}: ${describeStatuses(answers.filter((answer) => answer.what === what).map((answer) => answer.status))}`).join('; ')}; no 5xx; every refusal in the contract's error shape, a refused body's message the contract's validation message (or naming the field); every stream answer within 10 s; database digest (tasks, sessions with their usage sums, events, operator keys, daily usage) and the orchestrator's sessions unchanged; controls: a valid usage report stored (session and daily sums grew by it), a key and a task with a budget made, the pending and the running session cancelled through the API, the completed one answered as it was; none of ${secrets.length} secrets (operator token, orchestrator key, signing key, the operator key, callback tokens, signing secrets, key and token hashes) found in any of the ${logs.lines} log lines they printed (read after each property).`,
  });
};

/** A query string of 1 to 3 parts: `keys` with hostile numbers, unknown keys, raw text; `huge` adds numbers of up to 30,000 digits. */
function queryString(keys: fc.Arbitrary<string>, huge = false): fc.Arbitrary<{ parts: QueryPart[]; text: string }> {
  const part = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        key: keys,
        value: huge ? fc.oneof({ weight: 9, arbitrary: numeral() }, { weight: 1, arbitrary: hugeNumeral }) : numeral(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        key: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((key) => !isPrototypeKey(key)),
        value: fc.string({ maxLength: 12 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '%ZZ',
          '%E0%A4%A',
          'limit=%',
          '%ED%A0%80=1',
          '&',
          '=',
          '==1',
          'limit',
          'after_sequence[]=1',
          'limit[0]=1',
          '__proto__=1',
          'constructor[prototype]=1',
        )
        .map((raw): QueryPart => ({ raw })),
    },
  );
  return fc.array(part, { minLength: 1, maxLength: 3 }).map((parts) => ({
    parts,
    text: parts.map((p) => ('raw' in p ? p.raw : `${encodeURIComponent(p.key)}=${encodeURIComponent(p.value)}`)).join('&'),
  }));
}

/** Numbers as hostile clients write them. */
function numeral(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat({ max: 1_000 }).map(String),
    fc.integer().map(String),
    fc.bigInt({ min: 2n ** 31n - 3n, max: 10n ** 30n }).map(String),
    fc.double({ noNaN: true }).map(String),
    fc.nat().map((value) => `0x${value.toString(16)}`),
    fc.nat().map((value) => `0b${value.toString(2)}`),
    fc.nat().map((value) => `0o${value.toString(8)}`),
    fc.nat({ max: 5_000 }).map((value) => value.toExponential()),
    fc.constantFrom(
      '',
      ' ',
      '+5',
      '-0',
      '٣',
      '５',
      '1_000',
      '1,5',
      'NaN',
      'Infinity',
      'null',
      'true',
      '[]',
      '{}',
      '10 ',
      ' 10',
      '\u00a010',
    ),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
  );
}

/**
 * Digits beyond any integer type: 1,000 to 5,000 (three of them still fit a request head of 16 KiB) or 20,000 to
 * 30,000 (one alone does not), so that whether a URL fits is never a matter of a few header bytes.
 */
const hugeNumeral = fc
  .oneof(fc.integer({ min: 1_000, max: 5_000 }), fc.integer({ min: 20_000, max: 30_000 }))
  .map((length) => '9'.repeat(length));

/**
 * What an endpoint with these integer parameters must answer a query of well-formed parts: 'valid' when each is
 * one of them, given once, an integer in decimal digits within its range; else the parameter whose 400 must name
 * it; undefined for raw parts, whose decoding is the server's business.
 */
function queryVerdict(parts: QueryPart[], ranges: Record<string, [number, number]>): string | undefined {
  if (parts.some((part) => 'raw' in part)) return undefined;
  const seen = new Set<string>();
  for (const part of parts as { key: string; value: string }[]) {
    const range = ranges[part.key];
    if (range === undefined || seen.has(part.key)) return part.key;
    seen.add(part.key);
    if (!/^-?[0-9]{1,15}$/.test(part.value)) return part.key;
    const value = Number(part.value);
    if (value < range[0] || value > range[1]) return part.key;
  }
  return 'valid';
}

/**
 * An unknown session or an id none can have: 404, or the query's 400 when it has one to give (before or after the
 * id), or a 414 for a segment past 100 characters; never a stream.
 */
function judgeUnknownTarget(answer: { status: number; body: string }, id: string, verdict: string | undefined): boolean {
  if (!isContractError(answer.body)) return false;
  if (decodedSegment(id) === undefined) return answer.status === 400;
  return [404, ...(id.length > 100 ? [414] : []), ...(verdict === 'valid' ? [] : [400])].includes(answer.status);
}

function isStream(answer: { status: number; body: string; contentType?: string }): boolean {
  return answer.status === 200 && (answer.contentType ?? '').startsWith('text/event-stream') && answer.body.startsWith(':');
}

/** `text` as UTF-8 bytes in a header: Node sends a header value as Latin-1, one byte per character. */
function latin1Header(text: string): string {
  return Buffer.from(text, 'utf8')
    .toString('latin1')
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/**
 * Keys refused or dropped before validation (Fastify's JSON parser refuses `__proto__`, Nest's validation pipe
 * deletes `constructor` and `prototype` as a guard against prototype pollution): not unknown fields it can name.
 */
/** Whether a parsed JSON value has a prototype key (isPrototypeKey) in any of its objects. */
function hasPrototypeKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([key, item]) => isPrototypeKey(key) || hasPrototypeKey(item));
}

function isPrototypeKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

/** A path segment as the router decodes it; undefined when its percent-encoding is no UTF-8. */
function decodedSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Opens a stream and closes it at its first bytes, which prove it open; a refusal is read whole. Rejects when
 * no answer comes within `boundMs`: a stream must open at once, not hang.
 */
function openBriefly(
  port: number,
  path: string,
  headers: Record<string, string>,
  boundMs: number,
): Promise<{ status: number; body: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'GET',
      path,
      headers: { accept: 'text/event-stream', ...headers },
      agent: false,
    });
    const timer = setTimeout(() => request.destroy(new Error(`GET ${path}: no answer within ${boundMs} ms`)), boundMs);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          contentType: response.headers['content-type'] ?? '',
        });
      };
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (response.statusCode === 200) finish();
      });
      response.on('end', finish);
      // Closing the stream ourselves ends the response early: that is how it ends here.
      response.on('error', finish);
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end();
  });
}
