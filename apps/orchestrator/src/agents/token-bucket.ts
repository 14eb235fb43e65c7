/**
 * A token bucket: `ratePerSecond` tokens a second, holding at most one second's worth,
 * so a burst right after a quiet spell is allowed but the long-run rate is bounded.
 * It starts full, at the first take: `now` may be a clock of its own (the times an
 * agent printed its lines, read back after a restart) rather than the wall clock.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt?: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = ratePerSecond;
  }

  tryTake(): boolean {
    const now = this.now();
    // A clock that went back refills nothing.
    if (this.refilledAt === undefined || now > this.refilledAt) {
      const elapsed = this.refilledAt === undefined ? 0 : now - this.refilledAt;
      this.tokens = Math.min(this.ratePerSecond, this.tokens + (elapsed / 1000) * this.ratePerSecond);
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
