import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { SessionStatus } from '@mosaic/orchestrator-contract';
import { Session } from './session';
import { SessionRegistry } from './session-registry';

function add(registry: SessionRegistry, id: string, status: SessionStatus = 'running'): Session {
  const session = new Session({ id, callback: { url: 'http://x', token: 't', origin: { requestId: 'r', trace: ROOT_CONTEXT } } });
  session.status = status;
  registry.add(session);
  return session;
}

function pageAll(registry: SessionRegistry, limit: number, status?: SessionStatus, between?: () => void): string[] {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = registry.list({ limit, status, cursor });
    ids.push(...page.sessions.map((session) => session.id));
    cursor = page.nextCursor ?? undefined;
    between?.();
  } while (cursor !== undefined);
  return ids;
}

describe('SessionRegistry.list', () => {
  it('pages newest first and visits each session once, ending with a null cursor', () => {
    const registry = new SessionRegistry();
    for (let index = 0; index < 10; index++) add(registry, `s${index}`);
    expect(pageAll(registry, 3)).toEqual(['s9', 's8', 's7', 's6', 's5', 's4', 's3', 's2', 's1', 's0']);
    expect(registry.list({ limit: 10 }).nextCursor).toBeNull();
    expect(registry.list({ limit: 9 }).nextCursor).not.toBeNull();
  });

  it('is unaffected by sessions created while paging', () => {
    const registry = new SessionRegistry();
    for (let index = 0; index < 7; index++) add(registry, `s${index}`);
    let created = 0;
    expect(pageAll(registry, 2, undefined, () => add(registry, `new${created++}`))).toEqual(['s6', 's5', 's4', 's3', 's2', 's1', 's0']);
  });

  it('filters by status across pages', () => {
    const registry = new SessionRegistry();
    for (let index = 0; index < 9; index++) add(registry, `s${index}`, index % 3 === 0 ? 'failed' : 'completed');
    expect(pageAll(registry, 2, 'failed')).toEqual(['s6', 's3', 's0']);
    expect(registry.list({ limit: 3, status: 'failed' }).nextCursor).toBeNull();
    expect(registry.list({ limit: 5, status: 'killed' })).toEqual({ sessions: [], nextCursor: null });
  });

  it('refuses a cursor it did not issue, including one from another instance', () => {
    const first = new SessionRegistry();
    for (let index = 0; index < 3; index++) add(first, `s${index}`);
    const cursor = first.list({ limit: 1 }).nextCursor!;
    expect(() => new SessionRegistry().list({ limit: 1, cursor })).toThrow(/cursor/);
    expect(() => first.list({ limit: 1, cursor: 'garbage' })).toThrow(/cursor/);
  });
});

describe('SessionRegistry.forgetEndedBefore', () => {
  function ended(registry: SessionRegistry, id: string, endedAt: string): Session {
    const session = add(registry, id, 'completed');
    session.endedAt = new Date(endedAt);
    return session;
  }

  it('forgets only the sessions that ended before the cutoff, and returns them', () => {
    const registry = new SessionRegistry();
    ended(registry, 'old', '2026-01-01T00:00:00Z');
    add(registry, 'running');
    ended(registry, 'recent', '2026-01-02T00:00:00Z');
    ended(registry, 'at-cutoff', '2026-01-01T12:00:00Z');

    const forgotten = registry.forgetEndedBefore(new Date('2026-01-01T12:00:00Z'));

    expect(forgotten.map((session) => session.id)).toEqual(['old']);
    expect(registry.get('old')).toBeUndefined();
    expect(registry.get('running')).toBeDefined();
    expect(pageAll(registry, 10)).toEqual(['at-cutoff', 'recent', 'running']);
    expect(registry.countByStatus()).toMatchObject({ completed: 2, running: 1 });
  });

  it('lets a cursor issued before continue where it was, even past a forgotten session', () => {
    const registry = new SessionRegistry();
    for (let index = 0; index < 6; index++) {
      if (index % 2 === 0) ended(registry, `s${index}`, '2026-01-01T00:00:00Z');
      else add(registry, `s${index}`);
    }
    const first = registry.list({ limit: 2 });
    expect(first.sessions.map((session) => session.id)).toEqual(['s5', 's4']);

    registry.forgetEndedBefore(new Date('2026-02-01T00:00:00Z'));

    const rest = registry.list({ limit: 10, cursor: first.nextCursor! });
    expect(rest.sessions.map((session) => session.id)).toEqual(['s3', 's1']);
  });
});

describe('SessionRegistry.withIdempotencyKey', () => {
  it('finds the session a key started until the session is forgotten', () => {
    const registry = new SessionRegistry();
    const session = new Session({ id: 's1', callback: { url: 'http://x', token: 't', origin: { requestId: 'r', trace: ROOT_CONTEXT } }, idempotencyKey: 'key-1' });
    registry.add(session);
    add(registry, 's2');

    expect(registry.withIdempotencyKey('key-1')).toBe(session);
    expect(registry.withIdempotencyKey('key-2')).toBeUndefined();
    session.status = 'completed';
    session.endedAt = new Date(Date.now() - 1000);
    registry.forgetEndedBefore(new Date());
    expect(registry.withIdempotencyKey('key-1')).toBeUndefined();
  });
});
