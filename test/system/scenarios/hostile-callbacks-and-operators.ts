import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { TASK_PRIORITIES, callbackEventSchema } from '@mosaic/orchestrator-contract';
import { rawRequest } from '../../support/http';
import {
  CALLBACK_SIGNING_KEY,
  OPERATOR_TOKEN,
  ORCHESTRATOR_KEY,
  call,
  createTask,
  dispatch,
  query,
  sessionRows,
  waitUntil,
} from '../harness';
import {
  callbackTokenOf,
  describeStatuses,
  headerValue,
  isContractError,
  signingSecretOf,
  tablesDigest,
  unstorableTexts,
} from '../hostile';
import type { ScenarioBody } from '../report';

/**
 * 10. Hostile input against the callback and operator endpoints: wrong tokens, signatures and keys, bodies the
 * contract refuses and text PostgreSQL cannot store. None may change the database, every answer is a 4xx in the
 * contract's error shape, and no secret reaches a log line.
 */
export const hostileInputAgainstCallbacksAndOperators: ScenarioBody = async (h, report) => {
  const databaseUrl = await h.database();
  const orchestrator = await h.orchestrator();
  // Records the spawn requests, which carry each session's callback signing secret as the orchestrator received it.
  const spawns = await h.proxy(orchestrator.port);
  // Short token lifetimes, so that expiry and revocation happen within the scenario; long enough for every
  // callback property that needs the long session's token valid (each is followed by a check that it still is).
  // 30 s: on a busy machine the callback properties alone can take more than 15 s.
  const tokenTtlMs = 30_000;
  const api = await h.api({
    databaseUrl,
    orchestratorUrl: spawns.url,
    // No reconciliation run either: its refreshes would write to the database this scenario proves unchanged.
    env: { CALLBACK_TOKEN_TTL_MS: String(tokenTtlMs), CALLBACK_TOKEN_TERMINAL_GRACE_MS: '300', RECONCILE_INTERVAL_MS: '3600000' },
  });
  // Alive until the scenario kills it at the end, however long the properties take on a busy machine.
  const longTask = await createTask(api, { sample_agent: { duration_ms: 170_000 } });
  const shortTask = await createTask(api, { sample_agent: { steps: 1, step_ms: 10 } });
  const long = await dispatch(api, longTask);
  const short = await dispatch(api, shortTask);
  await waitUntil(
    'both sessions reported',
    async () => {
      const rows = await sessionRows(databaseUrl);
      // The long agent reports running, one log line and 3 progress steps at once, then nothing until it is killed.
      return rows.some((row) => row.status === 'completed') && rows.some((row) => row.status === 'running' && row.last_sequence >= 5);
    },
    15_000,
  );
  const eventOf = (sessionId: string) =>
    JSON.parse(api.callbacks.requests.find((request) => request.path.endsWith(sessionId))!.body) as Record<string, unknown>;
  const longId = long.body.session.id;
  const shortId = short.body.session.id;
  const longToken = callbackTokenOf(api.callbacks, longId);
  const shortToken = callbackTokenOf(api.callbacks, shortId);
  expect(longToken.length).toBeGreaterThan(20);
  const longSecret = signingSecretOf(spawns, longId);
  const shortSecret = signingSecretOf(spawns, shortId);
  expect([longSecret, shortSecret]).toEqual([expect.stringMatching(/^whsec_/), expect.stringMatching(/^whsec_/)]);
  expect(longSecret).not.toBe(shortSecret);
  /** Standard Webhooks headers for `body`, signed with `secret` as `id` at `at`, with the maintained package. */
  const signed = (secret: string, id: string, body: string, at = new Date()) => ({
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  });
  const signedBy = (secret: string, body: string) => signed(secret, String((JSON.parse(body) as { event_id: unknown }).event_id), body);
  /** Signed as the orchestrator would sign it, when its event_id can be a header at all; so that a case refused is refused for what it varies, not for lacking a signature. */
  const signedIfSignable = (secret: string, body: string): Record<string, string> => {
    let id: unknown;
    try {
      id = (JSON.parse(body) as { event_id?: unknown } | null)?.event_id;
    } catch {
      return {};
    }
    return typeof id === 'string' && /^[\x20-\x7e]*$/.test(id) ? signed(secret, id, body) : {};
  };
  // Every request below that is not one of the hostile `answers`: operator keys made and revoked by the
  // administrator, and the checks that a credential still works, so that a refusal is due to what the case changed.
  let controls = 0;
  const control = async (
    what: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    expected: number,
  ) => {
    const answer = await rawRequest(api.port, method, path, headers, body);
    controls += 1;
    expect([what, answer.status]).toEqual([what, expected]);
    return answer;
  };

  // Operator keys, made by the administrator before the snapshot: one per scope, one of two scopes, one of all
  // three (still no administrator), and one revoked after a request showed it worked.
  type Scope = 'read' | 'dispatch' | 'stop';
  const makeKey = async (name: string, scopes: Scope[]) => {
    const made = await call<{ id: string; key: string }>(api.service.url, 'POST', '/operator-keys', { name, scopes });
    controls += 1;
    expect(made.status).toBe(201);
    return { id: made.body.id, key: made.body.key, scopes };
  };
  const liveKeys = [
    await makeKey('hostile read', ['read']),
    await makeKey('hostile dispatch', ['dispatch']),
    await makeKey('hostile stop', ['stop']),
    await makeKey('hostile read+stop', ['read', 'stop']),
    await makeKey('hostile all scopes', ['read', 'dispatch', 'stop']),
  ];
  const revokedKey = await makeKey('hostile revoked', ['read', 'dispatch', 'stop']);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  await control('revoked key before its revoke', 'GET', '/orchestrator/sessions', bearer(revokedKey.key), undefined, 200);
  expect((await call(api.service.url, 'DELETE', `/operator-keys/${revokedKey.id}`)).status).toBe(200);
  controls += 1;
  // Each live key passes authentication and its scope's check: read lists, dispatch gets as far as the body's validation, stop as far as the unknown session.
  for (const key of liveKeys) {
    if (key.scopes.includes('read')) await control(`key with read`, 'GET', '/orchestrator/sessions', bearer(key.key), undefined, 200);
    if (key.scopes.includes('dispatch'))
      await control('key with dispatch', 'POST', '/tasks', { ...bearer(key.key), 'content-type': 'application/json' }, '{}', 400);
    if (key.scopes.includes('stop'))
      await control('key with stop', 'POST', `/orchestrator/sessions/${randomUUID()}/kill`, bearer(key.key), undefined, 404);
  }
  const keyHashes = (await query<{ key_hash: string }>(databaseUrl, 'SELECT key_hash FROM operator_keys')).map((row) => row.key_hash);
  expect(keyHashes).toHaveLength(liveKeys.length + 1);

  const snapshot = () => tablesDigest(databaseUrl, ['tasks', 'orchestrator_sessions', 'orchestrator_session_events', 'operator_keys']);

  const answers: { status: number; body: string; what: string }[] = [];
  const send = async (what: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string }) => {
    const answer = await rawRequest(api.port, options.method ?? 'POST', path, options.headers ?? {}, options.body);
    answers.push({ ...answer, what });
    return answer;
  };
  const callbackPath = (sessionId: string) => `/orchestrator/callbacks/${sessionId}`;
  const json = { 'content-type': 'application/json' };

  // Tokens: while the long session is live and its token valid, every wrong token is refused.
  const longEvent = JSON.stringify({ ...eventOf(longId), event_id: randomUUID(), sequence: 999 });
  const tampered = longToken.slice(0, -1) + (longToken.endsWith('A') ? 'B' : 'A');
  const before = await snapshot();
  const runs = Number(process.env.SYSTEM_FUZZ_RUNS ?? 150);

  // Callbacks PostgreSQL could not store: a NUL or an unpaired surrogate in any string, an exit code beyond
  // int32, a line of control characters past 16 KiB once escaped. First, while the long session's token is
  // valid, signed with its secret: each is the sender's mistake, a 400 naming the field, and nothing is stored.
  // Except an event_id with a NUL or a surrogate: no HTTP header can carry it as the webhook-id the signature
  // must name, so no such callback can be signed, and it gets the uniform 401.
  const [{ expires_at: longTokenExpiresAt }] = await query<{ expires_at: Date }>(
    databaseUrl,
    'SELECT callback_token_expires_at AS expires_at FROM orchestrator_sessions WHERE id = $1',
    [longId],
  );
  const longOrchestratorSessionId = String(eventOf(longId).session_id);
  const envelope = () => ({
    event_id: randomUUID(),
    session_id: longOrchestratorSessionId,
    sequence: 1000,
    timestamp: new Date().toISOString(),
  });
  const beyondInt32 = fc.maxSafeInteger().filter((value) => value > 2_147_483_647 || value < -2_147_483_648);
  // Six bytes each once JSON-escaped: 2,731 of them pass 16 KiB, 10,000 still fit the 64 KiB body.
  const controlLine = fc.string({
    unit: fc.constantFrom(...'\u0001\u0002\u0007\u000b\u000e\u001b\u001f'),
    minLength: 2731,
    maxLength: 10_000,
  });
  const unstorableEvent = fc.oneof(
    fc
      .record({ field: fc.constantFrom('event_id', 'session_id'), text: unstorableTexts })
      .map(({ field, text }) => ({ ...envelope(), type: 'progress', data: { message: 'm' }, [field]: text })),
    unstorableTexts.map((line) => ({ ...envelope(), type: 'log', data: { stream: 'stdout', line } })),
    unstorableTexts.map((message) => ({ ...envelope(), type: 'progress', data: { message } })),
    fc
      .record({ field: fc.constantFrom('summary', 'error'), text: unstorableTexts })
      .map(({ field, text }) => ({ ...envelope(), type: 'result', status: 'running', data: { [field]: text } })),
    unstorableTexts.map((error) => ({ ...envelope(), type: 'status', status: 'running', data: { error } })),
    fc
      .record({ type: fc.constantFrom('status', 'result'), exitCode: beyondInt32 })
      .map(({ type, exitCode }) => ({ ...envelope(), type, status: 'running', data: { exit_code: exitCode } })),
    controlLine.map((line) => ({ ...envelope(), type: 'log', data: { stream: 'stderr', line } })),
  );
  let unstorableRefused = 0;
  let unsignable = 0;
  await fc.assert(
    fc.asyncProperty(unstorableEvent, async (body) => {
      expect(callbackEventSchema.safeParse(body).success).toBe(false);
      const text = JSON.stringify(body);
      const signable = /^[\x20-\x7e]*$/.test(body.event_id);
      if (!signable) unsignable += 1;
      const answer = await send('unstorable callback, valid token and signature', callbackPath(longId), {
        headers: { ...json, authorization: `Bearer ${longToken}`, ...signed(longSecret, signable ? body.event_id : randomUUID(), text) },
        body: text,
      });
      if (answer.status === 400) unstorableRefused += 1;
      const namesField = () =>
        /^(event_id|session_id|data\.(line|message|summary|error|exit_code)): /.test(
          (JSON.parse(answer.body) as { error: { message: string } }).error.message,
        );
      // Past the token's lifetime, the uniform 401 is the right answer too.
      const expired = answer.status === 401 && Date.now() >= longTokenExpiresAt.getTime();
      return isContractError(answer.body) && (signable ? (answer.status === 400 && namesField()) || expired : answer.status === 401);
    }),
    { numRuns: runs },
  );
  expect(unstorableRefused).toBeGreaterThan(0);
  // Each signed with the secret of the session in its path, so that the token alone is wrong.
  const refusals: [string, string, string, string][] = [
    ['other session token', callbackPath(longId), shortToken, longSecret],
    ['other session token (reverse)', callbackPath(shortId), longToken, shortSecret],
    ['tampered token', callbackPath(longId), tampered, longSecret],
    ['truncated token', callbackPath(longId), longToken.slice(0, -4), longSecret],
    ['token of another session, its own URL unknown', callbackPath(randomUUID()), longToken, longSecret],
    ['operator token as callback token', callbackPath(longId), OPERATOR_TOKEN, longSecret],
    ['orchestrator key as callback token', callbackPath(longId), ORCHESTRATOR_KEY, longSecret],
  ];
  for (const [what, path, token, secret] of refusals) {
    const answer = await send(what, path, {
      headers: { ...json, authorization: `Bearer ${token}`, ...signedBy(secret, longEvent) },
      body: longEvent,
    });
    expect([what, answer.status]).toEqual([what, 401]);
  }
  await sleep(400);
  const shortEvent = JSON.stringify({ ...eventOf(shortId), event_id: randomUUID(), sequence: 999 });
  const revoked = await send('revoked token (terminal + grace)', callbackPath(shortId), {
    headers: { ...json, authorization: `Bearer ${shortToken}`, ...signedBy(shortSecret, shortEvent) },
    body: shortEvent,
  });
  expect(revoked.status).toBe(401);
  const bodies401 = new Set(answers.filter((answer) => answer.status === 401).map((answer) => answer.body));
  expect(bodies401.size).toBe(1);
  const [uniform401] = bodies401;

  // Signatures (Standard Webhooks). The long session was dispatched with a signing secret, so its callbacks need
  // its token and a valid signature. Each case below is a storable event with the valid token whose signature
  // alone is wrong: unsigned, garbage, another secret, another body, stamped more than 5 minutes off, or a
  // webhook-id that is not its event_id. Each must get the identical 401 and store nothing.
  const storableEvent = fc
    .record({ eventId: fc.uuid(), sequence: fc.integer({ min: 1000, max: 2_000_000_000 }), message: fc.string({ maxLength: 200 }) })
    .map(({ eventId, sequence, message }) => ({
      event_id: eventId,
      session_id: longOrchestratorSessionId,
      sequence,
      type: 'progress',
      timestamp: new Date().toISOString(),
      data: { message },
    }));
  const randomSecret = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`);
  const MIN_SKEW_S = 5 * 60 + 5;
  const hostileSignatures: [string, fc.Arbitrary<{ body: string; headers: Record<string, string> }>][] = [
    ['unsigned', storableEvent.map((event) => ({ body: JSON.stringify(event), headers: {} }))],
    [
      'garbage signature headers',
      fc
        .record({
          event: storableEvent,
          // Mostly the right id and time (undefined), so that the signature is what is wrong.
          id: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: headerValue }),
          timestamp: fc.oneof(
            { weight: 3, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: fc.oneof(headerValue, fc.integer().map(String)) },
          ),
          signature: fc.oneof(
            headerValue,
            fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => `v1,${Buffer.from(bytes).toString('base64')}`),
            fc
              .array(
                fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => `v1,${Buffer.from(bytes).toString('base64')}`),
                { minLength: 2, maxLength: 5 },
              )
              .map((list) => list.join(' ')),
            // The right signature under another version label: only v1 counts.
            fc.constantFrom('v2,', 'V1,', 'v1;', 'v1 ', '', 'v1,v1,').map((label) => ({ label })),
          ),
        })
        .map(({ event, id, timestamp, signature }) => {
          const body = JSON.stringify(event);
          const genuine = signedBy(longSecret, body);
          return {
            body,
            headers: {
              'webhook-id': id ?? genuine['webhook-id'],
              'webhook-timestamp': timestamp ?? genuine['webhook-timestamp'],
              'webhook-signature':
                typeof signature === 'string' ? signature : genuine['webhook-signature'].replace(/^v1,/, signature.label),
            },
          };
        }),
    ],
    [
      'valid signature with another secret',
      // The other session's secret is not filtered out: were both sessions given one secret, this case must fail.
      fc
        .record({
          event: storableEvent,
          secret: fc.oneof(
            randomSecret.filter((secret) => secret !== longSecret),
            fc.constant(shortSecret),
          ),
        })
        .map(({ event, secret }) => {
          const body = JSON.stringify(event);
          return { body, headers: signedBy(secret, body) };
        }),
    ],
    [
      'valid signature over another body',
      // Another event, or the same one in other bytes (pretty-printed, a space or newline more): the signature
      // covers the bytes sent, not what they parse to. Either way round: sent the one, signed over the other.
      fc
        .record({
          event: storableEvent,
          otherMessage: fc.string({ maxLength: 200 }),
          how: fc.constantFrom('other message', 'pretty-printed', 'trailing newline', 'leading space'),
          swap: fc.boolean(),
        })
        .filter(({ event, otherMessage, how }) => how !== 'other message' || otherMessage !== event.data.message)
        .map(({ event, otherMessage, how, swap }) => {
          const compact = JSON.stringify(event);
          const other =
            how === 'other message'
              ? JSON.stringify({ ...event, data: { message: otherMessage } })
              : how === 'pretty-printed'
                ? JSON.stringify(event, null, 2)
                : how === 'trailing newline'
                  ? `${compact}\n`
                  : ` ${compact}`;
          const [body, signedOver] = swap ? [other, compact] : [compact, other];
          return { body, headers: signed(longSecret, event.event_id, signedOver) };
        }),
    ],
    [
      'valid signature stamped more than 5 minutes off',
      fc
        .record({ event: storableEvent, skew: fc.integer({ min: MIN_SKEW_S, max: 10 * 365 * 24 * 3600 }), future: fc.boolean() })
        .map(({ event, skew, future }) => {
          const body = JSON.stringify(event);
          return { body, headers: signed(longSecret, event.event_id, body, new Date(Date.now() + (future ? 1 : -1) * skew * 1000)) };
        }),
    ],
    [
      'valid signature whose webhook-id is not the event_id',
      fc
        .record({ event: storableEvent, otherId: fc.oneof(fc.uuid(), headerValue, fc.constant('')), upper: fc.boolean() })
        .map(({ event, otherId, upper }) => ({ event, otherId: upper ? event.event_id.toUpperCase() : otherId }))
        .filter(({ event, otherId }) => otherId !== event.event_id)
        .map(({ event, otherId }) => {
          const body = JSON.stringify(event);
          return { body, headers: signed(longSecret, otherId, body) };
        }),
    ],
  ];
  // An event the orchestrator did deliver, as it sent it: signed anew with the session's secret, it must still be
  // taken (a duplicate, which changes nothing), proving the token and the secret were good for the case before.
  const delivered = api.callbacks.requests.find((request) => request.path === callbackPath(longId))!.body;
  const stillAccepted = async (after: string) => {
    const answer = await control(
      `signed duplicate after "${after}"`,
      'POST',
      callbackPath(longId),
      { ...json, ...bearer(longToken), ...signedBy(longSecret, delivered) },
      delivered,
      202,
    );
    expect(JSON.parse(answer.body)).toEqual({ accepted: true, duplicate: true });
  };
  await stillAccepted('the properties before');
  const signatureRefusals: Record<string, number> = {};
  for (const [what, hostile] of hostileSignatures) {
    await fc.assert(
      fc.asyncProperty(hostile, async ({ body, headers }) => {
        expect(callbackEventSchema.safeParse(JSON.parse(body)).success).toBe(true);
        const answer = await send(`callback signature: ${what}`, callbackPath(longId), {
          headers: { ...json, ...bearer(longToken), ...headers },
          body,
        });
        expect({ what, status: answer.status, body: answer.body }).toEqual({ what, status: 401, body: uniform401 });
        signatureRefusals[what] = (signatureRefusals[what] ?? 0) + 1;
      }),
      { numRuns: runs },
    );
    await stillAccepted(what);
  }

  // Property-based: arbitrary bodies, headers and tokens. With the valid token only bodies the contract refuses.
  const notAnEvent = fc.anything().filter((value) => !callbackEventSchema.safeParse(value).success);
  const mutatedEvent = fc
    .record({ key: fc.constantFrom('event_id', 'session_id', 'sequence', 'type', 'status', 'timestamp', 'data'), value: fc.anything() })
    .map(({ key, value }) => ({ ...eventOf(longId), event_id: randomUUID(), [key]: value }))
    .filter((value) => !callbackEventSchema.safeParse(value).success);
  const anyToken = fc.oneof(
    headerValue,
    fc.constant(tampered),
    fc.constant(shortToken),
    headerValue.map((value) => longToken + value),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(notAnEvent, mutatedEvent),
      fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1'),
      async (body, contentType) => {
        const text = JSON.stringify(body) ?? 'undefined';
        const answer = await send('fuzzed body, valid token', callbackPath(longId), {
          headers: { 'content-type': contentType, authorization: `Bearer ${longToken}`, ...signedIfSignable(longSecret, text) },
          body: text,
        });
        return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
      },
    ),
    { numRuns: runs },
  );
  await fc.assert(
    fc.asyncProperty(
      anyToken,
      fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }).map(encodeURIComponent)),
      fc.oneof(notAnEvent, fc.constant(JSON.parse(longEvent) as unknown)),
      async (token, sessionId, body) => {
        const answer = await send('fuzzed token and path', `/orchestrator/callbacks/${sessionId === '' ? 'x' : sessionId}`, {
          headers: { ...json, authorization: `Bearer ${token}` },
          body: JSON.stringify(body) ?? 'null',
        });
        return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
      },
    ),
    { numRuns: runs },
  );
  // Without a valid token, an unstorable callback learns nothing: the identical 401, before its body can fail anything.
  // (HTTP drops the spaces around a header's value: the valid token with a space after it is the valid token.)
  await fc.assert(
    fc.asyncProperty(
      anyToken.filter((token) => token.trim() !== longToken),
      fc.constantFrom(longId, shortId, randomUUID()),
      unstorableEvent,
      async (token, sessionId, body) => {
        const text = JSON.stringify(body);
        const answer = await send('unstorable callback, no valid token', callbackPath(sessionId), {
          headers: {
            ...json,
            authorization: `Bearer ${token}`,
            ...signedIfSignable(sessionId === shortId ? shortSecret : longSecret, text),
          },
          body: text,
        });
        return answer.status === 401 && answer.body === uniform401;
      },
    ),
    { numRuns: runs },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.constant(undefined),
        headerValue,
        headerValue.map((value) => `Bearer ${value}`),
        fc.constant(`Bearer ${longToken}`),
      ),
      fc.constantFrom<[string, string]>(
        ['POST', '/tasks'],
        ['GET', '/orchestrator/sessions'],
        ['POST', `/tasks/${longTask}/dispatch`],
        ['POST', `/orchestrator/sessions/${longId}/kill`],
        ['GET', `/tasks/${longTask}`],
      ),
      async (authorization, [method, path]) => {
        const answer = await send('operator endpoint, wrong token', path, {
          method,
          headers: { ...json, ...(authorization === undefined ? {} : { authorization }) },
          body: method === 'POST' ? '{"title":"hostile"}' : undefined,
        });
        return answer.status === 401 && isContractError(answer.body);
      },
    ),
    { numRuns: runs },
  );

  // Operator keys against every operator endpoint, on real targets (the running and the completed session and
  // their tasks, the keys themselves) or unknown ones, with bodies that would do something if let through.
  interface OperatorRequest {
    method: string;
    path: string;
    right: Scope | 'admin';
    body?: string;
  }
  const someTask = fc.oneof(fc.constantFrom(longTask, shortTask), fc.uuid());
  const someSession = fc.oneof(fc.constantFrom(longId, shortId), fc.uuid());
  const scopedRequest = fc.oneof(
    fc
      .string({ minLength: 1, maxLength: 100 })
      .map((title): OperatorRequest => ({ method: 'POST', path: '/tasks', right: 'dispatch', body: JSON.stringify({ title }) })),
    someTask.map((id): OperatorRequest => ({ method: 'GET', path: `/tasks/${id}`, right: 'read' })),
    someTask.map((id): OperatorRequest => ({ method: 'POST', path: `/tasks/${id}/dispatch`, right: 'dispatch', body: '{}' })),
    fc.constant<OperatorRequest>({ method: 'GET', path: '/orchestrator/sessions', right: 'read' }),
    someSession.map((id): OperatorRequest => ({ method: 'GET', path: `/orchestrator/sessions/${id}`, right: 'read' })),
    someSession.map((id): OperatorRequest => ({ method: 'POST', path: `/orchestrator/sessions/${id}/kill`, right: 'stop' })),
  );
  // Making a key (of any scopes: a way up to everything), listing the keys, revoking one (its own included).
  const adminRequest = fc.oneof(
    fc
      .record({
        name: fc.string({ minLength: 1, maxLength: 100 }),
        scopes: fc.subarray<Scope>(['read', 'dispatch', 'stop'], { minLength: 1 }),
      })
      .map((body): OperatorRequest => ({ method: 'POST', path: '/operator-keys', right: 'admin', body: JSON.stringify(body) })),
    fc.constant<OperatorRequest>({ method: 'GET', path: '/operator-keys', right: 'admin' }),
    fc
      .oneof(fc.constantFrom(...liveKeys.map((key) => key.id), revokedKey.id), fc.uuid())
      .map((id): OperatorRequest => ({ method: 'DELETE', path: `/operator-keys/${id}`, right: 'admin' })),
  );
  const sendOperator = (what: string, request: OperatorRequest, token: string) =>
    send(what, request.path, {
      method: request.method,
      headers: { ...bearer(token), ...(request.body === undefined ? {} : json) },
      body: request.body,
    });
  const isInsufficientScope = (answer: { status: number; body: string }) => {
    if (answer.status !== 403 || !isContractError(answer.body)) return false;
    return (JSON.parse(answer.body) as { error: { code: string } }).error.code === 'insufficient_scope';
  };
  const operator401 = (await send('operator endpoint, no token', '/orchestrator/sessions', { method: 'GET' })).body;
  expect(isContractError(operator401)).toBe(true);
  // Credentials that are nobody's: random bearer tokens, mk_ and random text or 256 random bits, the revoked
  // key, a live key one character off, cut, extended or with its prefix in capitals, a key's stored hash.
  const liveKey = fc.constantFrom(...liveKeys.map((key) => key.key));
  const base64url = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const nearMiss = fc
    .record({ key: liveKey, at: fc.nat(), how: fc.constantFrom('changed', 'cut', 'extended', 'prefix in capitals') })
    .map(({ key, at, how }) => {
      const index = 3 + (at % (key.length - 3));
      if (how === 'changed')
        return key.slice(0, index) + base64url[(base64url.indexOf(key[index]) + 1 + (at % 63)) % 64] + key.slice(index + 1);
      if (how === 'cut') return key.slice(0, index);
      if (how === 'extended') return key + base64url[at % 64];
      return `MK_${key.slice(3)}`;
    });
  const nobodysToken = fc
    .oneof(
      headerValue,
      fc
        .oneof(
          headerValue,
          fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
        )
        .map((value) => `mk_${value}`),
      fc.constant(revokedKey.key),
      nearMiss,
      fc.constantFrom(...keyHashes),
    )
    .filter((token) => token !== OPERATOR_TOKEN && !liveKeys.some((key) => key.key === token));
  await fc.assert(
    fc.asyncProperty(nobodysToken, fc.oneof(scopedRequest, adminRequest), async (token, request) => {
      const answer = await sendOperator("operator endpoint, nobody's key", request, token);
      return answer.status === 401 && answer.body === operator401;
    }),
    { numRuns: runs },
  );
  // A live key on an endpoint whose scope it lacks.
  await fc.assert(
    fc.asyncProperty(
      scopedRequest.chain((request) =>
        fc.constantFrom(...liveKeys.filter((key) => !key.scopes.includes(request.right as Scope))).map((key) => ({ request, key })),
      ),
      async ({ request, key }) => isInsufficientScope(await sendOperator('operator endpoint, key lacking the scope', request, key.key)),
    ),
    { numRuns: runs },
  );
  // No operator key, not even one of every scope, may make, list or revoke keys: that is the administrator's.
  await fc.assert(
    fc.asyncProperty(liveKey, adminRequest, async (key, request) =>
      isInsufficientScope(await sendOperator('operator keys endpoint, operator key', request, key)),
    ),
    { numRuns: runs },
  );
  const operator = { ...json, authorization: `Bearer ${OPERATOR_TOKEN}` };
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc
          .anything()
          .filter(
            (value) =>
              typeof value !== 'object' ||
              value === null ||
              Array.isArray(value) ||
              typeof (value as { title?: unknown }).title !== 'string',
          ),
        fc.record({ title: fc.oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.array(fc.string())) }, { requiredKeys: [] }),
        fc.record({
          title: fc.constant('x'),
          priority: fc.oneof(
            fc.string().filter((value) => !(TASK_PRIORITIES as readonly string[]).includes(value)),
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.constant(-1),
          ),
        }),
      ),
      async (body) => {
        const answer = await send('POST /tasks, invalid body', '/tasks', { headers: operator, body: JSON.stringify(body) ?? 'null' });
        return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
      },
    ),
    { numRuns: runs },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc
          .record({ limit: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 501 }), fc.stringMatching(/^[a-z]{1,10}$/)) })
          .map(({ limit }) => `limit=${encodeURIComponent(String(limit))}`),
        fc
          .string({ minLength: 1 })
          .filter((value) => !['pending', 'running', 'completed', 'failed', 'killed', 'spawning'].includes(value))
          .map((value) => `status=${encodeURIComponent(value)}`),
        fc.string({ minLength: 1, maxLength: 60 }).map((value) => `cursor=${encodeURIComponent(value)}`),
      ),
      async (search) => {
        const answer = await send('GET /orchestrator/sessions, invalid query', `/orchestrator/sessions?${search}`, {
          method: 'GET',
          headers: operator,
        });
        return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
      },
    ),
    { numRuns: runs },
  );
  // A well-formed cursor with a time no session can have: year 0, a negative year, past 9999.
  const forgedCursor = fc
    .record({
      year: fc.oneof(fc.constant(0), fc.integer({ min: -271_820, max: -1 }), fc.integer({ min: 10_000, max: 275_759 })),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 28 }),
      id: fc.uuid(),
    })
    .map(({ year, month, day, id }) =>
      Buffer.from(`${isoYear(year)}-${twoDigits(month)}-${twoDigits(day)}T00:00:00.000Z|${id}`, 'utf8').toString('base64url'),
    );
  await fc.assert(
    fc.asyncProperty(forgedCursor, async (cursor) => {
      const answer = await send('GET /orchestrator/sessions, forged cursor', `/orchestrator/sessions?cursor=${cursor}`, {
        method: 'GET',
        headers: operator,
      });
      return answer.status === 400 && isContractError(answer.body);
    }),
    { numRuns: runs },
  );
  // A NUL or an unpaired surrogate in a task's title, or anywhere in its metadata, keys included.
  const unstorableTask = fc.oneof(
    unstorableTexts.map((title) => ({ title })),
    fc.record({ key: unstorableTexts, value: fc.string() }).map(({ key, value }) => ({ title: 'hostile', metadata: { [key]: value } })),
    fc
      .record({ path: fc.array(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 10 }), value: unstorableTexts })
      .map(({ path, value }) => ({
        title: 'hostile',
        metadata: path.reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), { note: value }),
      })),
  );
  await fc.assert(
    fc.asyncProperty(unstorableTask, async (body) => {
      const answer = await send('POST /tasks, unstorable text', '/tasks', { headers: operator, body: JSON.stringify(body) });
      return answer.status === 400 && isContractError(answer.body);
    }),
    { numRuns: runs },
  );
  // Metadata nested up to 50,000 levels: arrays nest in 2 bytes a level, so even that fits the 256 KiB body limit.
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.constant(50_000), fc.integer({ min: 33, max: 50_000 })), async (depth) => {
      const answer = await send('POST /tasks, deep metadata', '/tasks', {
        headers: operator,
        body: `{"title":"deep","metadata":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
      });
      return answer.status === 400 && isContractError(answer.body);
    }),
    { numRuns: runs },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uuid(),
        fc
          .string({ minLength: 1, maxLength: 60 })
          .filter((value) => !/^\.+$/.test(value))
          .map(encodeURIComponent),
      ),
      fc.constantFrom('dispatch', 'kill', 'get', 'task'),
      async (id, action) => {
        const [method, path] =
          action === 'dispatch'
            ? ['POST', `/tasks/${id}/dispatch`]
            : action === 'kill'
              ? ['POST', `/orchestrator/sessions/${id}/kill`]
              : action === 'get'
                ? ['GET', `/orchestrator/sessions/${id}`]
                : ['GET', `/tasks/${id}`];
        const answer = await send('unknown ids', path, { method, headers: operator });
        return answer.status >= 400 && answer.status < 500 && isContractError(answer.body);
      },
    ),
    { numRuns: runs },
  );
  const oversized = await send('callback body over 64 KiB', callbackPath(longId), {
    headers: { ...json, authorization: `Bearer ${longToken}` },
    body: JSON.stringify({ ...JSON.parse(longEvent), data: { message: 'x'.repeat(70 * 1024) } }),
  });
  expect(oversized.status).toBe(413);
  const malformed = await send('malformed JSON', callbackPath(longId), {
    headers: { ...json, authorization: `Bearer ${longToken}` },
    body: '{"event_id":',
  });
  expect(malformed.status).toBe(400);

  const serverErrors = answers.filter((answer) => answer.status >= 500);
  expect(serverErrors.slice(0, 5)).toEqual([]);
  expect(answers.filter((answer) => !isContractError(answer.body)).slice(0, 5)).toEqual([]);
  expect(await snapshot()).toBe(before);

  // Expiry: past its lifetime, the long session's own token is refused too, with a valid signature.
  await waitUntil(
    'token expired',
    async () => {
      const rows = await query<{ expired: boolean }>(
        databaseUrl,
        'SELECT callback_token_expires_at < now() AS expired FROM orchestrator_sessions WHERE id = $1',
        [longId],
      );
      return rows[0].expired;
    },
    tokenTtlMs + 10_000,
  );
  const expired = await send('expired token', callbackPath(longId), {
    headers: { ...json, authorization: `Bearer ${longToken}`, ...signedBy(longSecret, longEvent) },
    body: longEvent,
  });
  expect(expired.status).toBe(401);
  expect(await snapshot()).toBe(before);

  expect((await call<{ status: string }>(api.service.url, 'POST', `/orchestrator/sessions/${longId}/kill`)).body.status).toBe('killed');
  await h.assertNoAgentsLeft(5_000);
  const callbackTokenHashes = (
    await query<{ hash: string | null }>(databaseUrl, 'SELECT callback_token_hash AS hash FROM orchestrator_sessions')
  ).flatMap((row) => (row.hash === null ? [] : [row.hash]));
  // Searched without their prefixes (whsec_, mk_), so a secret printed bare is found too.
  const secrets = [
    longToken,
    shortToken,
    tampered,
    OPERATOR_TOKEN,
    ORCHESTRATOR_KEY,
    CALLBACK_SIGNING_KEY,
    ...[longSecret, shortSecret].map((secret) => secret.slice('whsec_'.length)),
    ...[...liveKeys, revokedKey].map((key) => key.key.slice('mk_'.length)),
    ...keyHashes,
    ...callbackTokenHashes,
  ];
  const logs = `${api.service.output()}\n${orchestrator.service.output()}`;
  expect(secrets.filter((secret) => logs.includes(secret))).toEqual([]);
  const countOf = (what: string) => answers.filter((answer) => answer.what === what).length;
  report({
    load: '1 running and 1 completed session',
    faults: 'hostile requests only',
    inputs: `${answers.length} requests: ${refusals.length + 2} targeted token cases (other session's, tampered, truncated, expired, revoked, operator/orchestrator secrets; each validly signed), ${runs} fast-check runs each of ${11 + hostileSignatures.length + 3} properties (callback bodies; unstorable callbacks (NUL, unpaired surrogates, exit_code beyond int32, lines of control characters past 16 KiB encoded) with and without a valid token; callback signatures of a signed session with its valid token: ${hostileSignatures.map(([what]) => what).join(', ')}; callback tokens/paths/headers; operator tokens; operator keys on every operator endpoint: nobody's (random bearer, mk_ and random text or 256 random bits, revoked, a live key one character off, cut, extended or in capitals, a key's stored hash), a live key lacking the endpoint's scope, any operator key (all three scopes included) making, listing or revoking keys; task bodies; task title and metadata with NUL or unpaired surrogates; metadata nested 33 to 50,000 levels; list queries; forged cursors of year 0, negative or past 9999; unknown ids), oversized and malformed bodies; besides, ${controls} control requests (keys made and revoked by the administrator, each key and a correctly signed callback shown to work) that are not counted here`,
    sent: answers.length,
    stored: 0,
    lost: 0,
    duplicated: 0,
    notes: `answers by status: ${describeStatuses(answers.map((answer) => answer.status))}; ${unstorableRefused} of ${runs} unstorable callbacks with the valid token and signature answered 400 naming the field, ${unsignable} whose event_id no header can carry (so no signature can name it) the uniform 401, ${runs - unstorableRefused - unsignable} 401 after the token expired; every hostile signature answered the identical 401 while the token was valid (${hostileSignatures.map(([what]) => `${what} ${signatureRefusals[what] ?? 0}`).join(', ')}), a correctly signed duplicate accepted (202) before the first case and after each; operator keys: ${countOf("operator endpoint, nobody's key")} requests with nobody's key answered the identical 401, ${countOf('operator endpoint, key lacking the scope')} with a key lacking the scope and ${countOf('operator keys endpoint, operator key')} by operator keys on /operator-keys answered 403 insufficient_scope; no 5xx; every answer in the contract's error shape; database digest (tasks, sessions, events, operator keys) unchanged; every refused token answered the identical 401 body; none of ${secrets.length} secrets (callback tokens and their hashes, operator token, orchestrator key, signing key, both sessions' signing secrets, ${liveKeys.length + 1} operator keys and their hashes) found in ${logs.split('\n').length} log lines.`,
  });
};

/** An ISO-8601 year as `Date` writes it: four digits, or six with a sign outside 0..9999. */
function isoYear(year: number): string {
  if (year >= 0 && year <= 9999) return String(year).padStart(4, '0');
  return `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
}

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}
