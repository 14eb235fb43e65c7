import type { Session } from '@mosaic/orchestrator-contract';
import { type ShownPage, upsertSession } from './session-page';

function session(id: string, createdAt: string, status: Session['status'] = 'running', updatedAt = createdAt): Session {
  return {
    id,
    task_id: `task-${id}`,
    task_title: `task ${id}`,
    orchestrator_session_id: null,
    status,
    attempt: 1,
    requested_by: null,
    last_sequence: 0,
    error: null,
    exit_code: null,
    node: null,
    queue_position: null,
    usage: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
    started_at: null,
    ended_at: null,
    last_event_at: null,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

const older = session('a', '2025-01-01T10:00:00.000Z');
const newer = session('b', '2025-01-01T11:00:00.000Z');

function page(overrides: Partial<ShownPage> = {}): ShownPage {
  return { status: null, cursor: null, sessions: [newer, older], nextCursor: 'more', ...overrides };
}

describe('upsertSession', () => {
  it('puts a new session at the top of the first page', () => {
    const created = session('c', '2025-01-01T12:00:00.000Z', 'spawning');
    expect(upsertSession(page(), created).sessions.map((shown) => shown.id)).toEqual(['c', 'b', 'a']);
  });

  it('leaves a new session off a later page', () => {
    expect(upsertSession(page({ cursor: 'x' }), session('c', '2025-01-01T12:00:00.000Z')).sessions).toHaveLength(2);
  });

  it('replaces a shown session, but not with an older state of it', () => {
    const done = { ...older, status: 'completed' as const, updated_at: '2025-01-01T10:05:00.000Z' };
    const updated = upsertSession(page(), done);
    expect(updated.sessions[1]).toBe(done);
    expect(upsertSession(updated, older).sessions[1]).toBe(done);
  });

  it('drops a session that no longer matches the filter and adds one that now does, in its place', () => {
    const running = page({ status: 'running' });
    expect(
      upsertSession(running, { ...newer, status: 'completed', updated_at: '2025-01-01T11:01:00.000Z' }).sessions.map((shown) => shown.id),
    ).toEqual(['a']);
    const between = session('m', '2025-01-01T10:30:00.000Z', 'running');
    expect(upsertSession(running, between).sessions.map((shown) => shown.id)).toEqual(['b', 'm', 'a']);
    expect(upsertSession(running, session('n', '2025-01-01T12:00:00.000Z', 'failed')).sessions).toHaveLength(2);
  });

  it('adds an older session only to the last page', () => {
    const oldest = session('z', '2024-12-31T00:00:00.000Z');
    expect(upsertSession(page(), oldest).sessions).toHaveLength(2);
    expect(upsertSession(page({ nextCursor: null }), oldest).sessions.map((shown) => shown.id)).toEqual(['b', 'a', 'z']);
  });
});
