import type { Session } from '@mosaic/orchestrator-contract';
import { laterState } from './session-state';

const base: Session = {
  id: 's',
  task_id: 't',
  task_title: 'a task',
  orchestrator_session_id: null,
  status: 'pending',
  attempt: 1,
  requested_by: null,
  last_sequence: 1,
  error: null,
  exit_code: null,
  node: null,
  queue_position: 1,
  usage: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
  started_at: null,
  ended_at: null,
  last_event_at: null,
  created_at: '2025-01-01T10:00:00.000Z',
  updated_at: '2025-01-01T10:00:00.000Z',
};

describe('laterState', () => {
  it('takes the fresher read of a session', () => {
    const running = { ...base, status: 'running' as const, node: 'n1' };
    expect(laterState(base, running)).toBe(running);
    expect(laterState(null, base)).toBe(base);
  });

  it('keeps a status the stream already reported over an older one read later, with the rest of the read', () => {
    const shown = { ...base, status: 'running' as const };
    expect(laterState(shown, { ...base, last_sequence: 2 })).toEqual({ ...base, last_sequence: 2, status: 'running' });
    expect(laterState({ ...base, status: 'killed' }, { ...base, status: 'running' }).status).toBe('killed');
  });
});
