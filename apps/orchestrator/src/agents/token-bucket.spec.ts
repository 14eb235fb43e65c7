import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('allows a burst of one second worth, then the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(3, () => now);
    expect([1, 2, 3, 4].map(() => bucket.tryTake())).toEqual([true, true, true, false]);
    now += 1000 / 3;
    expect([bucket.tryTake(), bucket.tryTake()]).toEqual([true, false]);
    now += 60_000;
    expect([1, 2, 3, 4].map(() => bucket.tryTake())).toEqual([true, true, true, false]);
  });

  it('starts full at the first take, whenever its clock starts, and refills nothing while the clock goes back', () => {
    let now = 1_000_000;
    const bucket = new TokenBucket(2, () => now);
    now = 5_000;
    expect([1, 2, 3].map(() => bucket.tryTake())).toEqual([true, true, false]);
    now = 4_000;
    expect(bucket.tryTake()).toBe(false);
    now = 5_500;
    expect([bucket.tryTake(), bucket.tryTake()]).toEqual([true, false]);
  });

  it('allows nothing at a rate of 0', () => {
    let now = 0;
    const bucket = new TokenBucket(0, () => now);
    expect(bucket.tryTake()).toBe(false);
    now += 10_000;
    expect(bucket.tryTake()).toBe(false);
  });
});
