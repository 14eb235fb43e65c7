import fc from 'fast-check';
import { TRACKED_SESSION_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { ACTIVE_STATUSES, canTransition, statusesThatMayMoveTo } from './session-status.machine';

describe('session status machine', () => {
  it.each<[TrackedSessionStatus, TrackedSessionStatus]>([
    ['spawning', 'pending'],
    ['spawning', 'running'],
    ['spawning', 'failed'],
    ['pending', 'running'],
    ['pending', 'killed'],
    ['running', 'completed'],
    ['running', 'failed'],
    ['running', 'killed'],
    ['pending', 'cancelled'],
    ['running', 'cancelled'],
  ])('moves %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each<[TrackedSessionStatus, TrackedSessionStatus]>([
    ['running', 'pending'],
    ['running', 'running'],
    ['pending', 'spawning'],
    ['completed', 'failed'],
    ['failed', 'completed'],
    ['killed', 'running'],
    ['completed', 'completed'],
    ['cancelled', 'killed'],
    ['killed', 'cancelled'],
    ['cancelled', 'running'],
  ])('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it('lists the statuses a report may move', () => {
    expect(statusesThatMayMoveTo('running')).toEqual(['spawning', 'pending']);
    expect(statusesThatMayMoveTo('killed')).toEqual(['spawning', 'pending', 'running']);
    expect(statusesThatMayMoveTo('cancelled')).toEqual(['spawning', 'pending', 'running']);
    expect(statusesThatMayMoveTo('spawning')).toEqual([]);
    expect(ACTIVE_STATUSES).toEqual(['spawning', 'pending', 'running']);
  });

  it('ends in the same status whatever order the reports come in', () => {
    const status = fc.constantFrom(...TRACKED_SESSION_STATUSES.filter((s) => s !== 'spawning'));
    const terminal = fc.constantFrom<TrackedSessionStatus>('completed', 'failed', 'killed', 'cancelled');
    fc.assert(
      fc.property(fc.array(status, { maxLength: 6 }), terminal, fc.nat(), (reports, end, seed) => {
        // A session reports at most one terminal status; the rest are pending/running.
        const nonTerminal = reports.filter((s) => s === 'pending' || s === 'running');
        const all = [...nonTerminal, end];
        const shuffled = [...all].sort((a, b) => ((a.charCodeAt(0) * 31 + seed) % 7) - ((b.charCodeAt(0) * 31 + seed) % 7));
        const apply = (list: TrackedSessionStatus[]) =>
          list.reduce<TrackedSessionStatus>((current, next) => (canTransition(current, next) ? next : current), 'spawning');
        expect(apply(shuffled)).toBe(apply(all));
        expect(apply(shuffled)).toBe(end);
      }),
    );
  });
});
