import type { Session } from '../api/types';
import { laterState } from './session-state';

const base: Session = { id: 's', task_id: 't', status: 'pending', error: null, last_sequence: 1, created_at: '2025-01-01T10:00:00.000Z', updated_at: '2025-01-01T10:00:00.000Z' };

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
