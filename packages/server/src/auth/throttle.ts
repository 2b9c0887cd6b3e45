/**
 * Fixed-window attempt counters, in memory. Used for login throttling per username and per IP.
 * Each key holds at most one small record, and expired records are swept, so memory stays bounded
 * by the number of distinct keys seen within one window.
 */
export class Throttle {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(windowMs, 60_000));
    this.sweepTimer.unref();
  }

  /** Seconds until `key` may try again, or 0 if it may try now. Does not count an attempt. */
  retryAfter(key: string, now = Date.now()): number {
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now || w.count < this.max) return 0;
    return Math.max(1, Math.ceil((w.resetAt - now) / 1000));
  }

  hit(key: string, now = Date.now()): void {
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) this.windows.set(key, { count: 1, resetAt: now + this.windowMs });
    else w.count++;
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private sweep(now = Date.now()): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }
}
