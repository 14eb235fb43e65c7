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
    // A session reports at most one terminal status; the rest are pending/running. Each case is the reports in
    // order and the same reports in any order (a permutation of all of them).
    const reportsInAnyOrder = fc
      .tuple(fc.array(status, { maxLength: 6 }), terminal)
      .map(([reports, end]) => ({ end, all: [...reports.filter((s) => s === 'pending' || s === 'running'), end] }))
      .chain(({ end, all }) => fc.shuffledSubarray(all, { minLength: all.length }).map((shuffled) => ({ end, all, shuffled })));
    const apply = (list: TrackedSessionStatus[]) =>
      list.reduce<TrackedSessionStatus>((current, next) => (canTransition(current, next) ? next : current), 'spawning');
    fc.assert(
      fc.property(reportsInAnyOrder, ({ end, all, shuffled }) => {
        expect(apply(shuffled)).toBe(apply(all));
        expect(apply(shuffled)).toBe(end);
      }),
    );
  });
});
