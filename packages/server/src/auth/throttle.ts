/**
 * Fixed-window attempt counters, in memory. Used to cap sign-in attempts per client address and
 * registrations per address and in total. Each key holds at most one small record, and expired
 * records are swept, so memory stays bounded by the number of distinct keys seen within one window.
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

  /** Whether `key` has reached its limit in the current window. */
  reached(key: string, now = Date.now()): boolean {
    return this.retryAfter(key, now) > 0;
  }

  hit(key: string, now = Date.now()): void {
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) this.windows.set(key, { count: 1, resetAt: now + this.windowMs });
    else w.count++;
  }

  /** Take back one hit (an attempt counted in advance that turned out not to count). */
  unhit(key: string): void {
    const w = this.windows.get(key);
    if (w && w.count > 0) w.count--;
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

export interface LoginThrottleOptions {
  /** Failures of one account from one address before each further attempt waits. */
  freeFailures: number;
  /** The first wait; each further failure doubles it. */
  baseDelayMs: number;
  /** The longest wait. A pair's failures are forgotten twice this long after its last failure. */
  maxDelayMs: number;
  /** Failures of one account from all addresses in `accountWindowMs` that put it under attack. */
  maxPerAccount: number;
  accountWindowMs: number;
  /** Attempts from one address, on any accounts, per `ipWindowMs`. */
  maxPerIp: number;
  ipWindowMs: number;
}

/** Who is trying: the account (or the unknown login) and the client's address key. */
export interface LoginAttempt {
  account: string;
  ip: string;
  /** A device cookie of this very account, from an earlier successful sign-in, that is still trusted. */
  device?: string | undefined;
}

export type LoginVerdict = { ok: true; reservation: Reservation } | { ok: false; retryAfter: number };

/** An attempt counted in advance as a failure; settle it once the password has been checked. */
export interface Reservation {
  /** The password was right: forget this pair's failures and take back the account's count. */
  succeed(): void;
  /** The password was wrong: the failure stays counted. */
  fail(): void;
  /** Nothing was checked (the hashing queue was full): take the attempt back. */
  release(): void;
}

interface PairState {
  failures: number;
  lastFailureAt: number;
}

/**
 * Sign-in throttling that an attacker cannot turn against the account's owner.
 *
 * The main counter is per (account, client address): a few free failures, then every further
 * attempt from that address waits, the wait doubling with each failure up to a cap. Someone guessing
 * from one address slows only themselves; the owner signing in from their own address is not
 * affected. One address cannot spread its guesses over many accounts either: a fixed window caps
 * all its attempts.
 *
 * Guessing from many addresses at once is met by a per-account count across addresses, set much
 * higher: past it, the account is under attack and addresses that have already failed on it get no
 * free failures. An address that never failed still gets its attempt, so the right password from
 * a new place is never locked out; it only means each attacking address gets one guess, not several.
 *
 * A device cookie (handed out at a successful sign-in) lets a browser that signed in before skip all
 * of this, since the throttles it would meet are caused by other people. It is itself throttled: after
 * the free failures it is no longer trusted.
 *
 * Every attempt is counted before the password is checked (`reserve`) and settled after, so
 * parallel guesses cannot all slip through while the first ones are still being checked.
 */
export class LoginThrottle {
  private readonly pairs = new Map<string, PairState>();
  private readonly accounts: Throttle;
  private readonly ips: Throttle;
  private readonly devices: Throttle;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly options: LoginThrottleOptions) {
    this.accounts = new Throttle(options.maxPerAccount, options.accountWindowMs);
    this.ips = new Throttle(options.maxPerIp, options.ipWindowMs);
    this.devices = new Throttle(options.freeFailures, options.maxDelayMs);
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(options.maxDelayMs, 60_000));
    this.sweepTimer.unref();
  }

  /** Whether a device cookie may still skip the throttles (it has not failed too often itself). */
  deviceTrusted(device: string, now = Date.now()): boolean {
    return !this.devices.reached(device, now);
  }

  /** Count an attempt before checking the password, or say how long to wait. */
  reserve(attempt: LoginAttempt, now = Date.now()): LoginVerdict {
    const { account, ip, device } = attempt;
    if (device !== undefined && this.deviceTrusted(device, now)) {
      this.devices.hit(device, now);
      return {
        ok: true,
        reservation: once({
          succeed: () => this.devices.reset(device),
          fail: () => {},
          release: () => this.devices.unhit(device),
        }),
      };
    }

    const pairKey = `${account}\n${ip}`;
    const wait = Math.max(this.ips.retryAfter(ip, now), this.pairWait(pairKey, account, now));
    if (wait > 0) return { ok: false, retryAfter: wait };

    this.ips.hit(ip, now); // every attempt, successes included: it caps how fast one address can try
    this.accounts.hit(account, now);
    const known = this.pairs.get(pairKey);
    const pair = known && !this.forgotten(known, now) ? known : { failures: 0, lastFailureAt: now };
    const before = { ...pair };
    pair.failures++;
    pair.lastFailureAt = now;
    this.pairs.set(pairKey, pair);
    return {
      ok: true,
      reservation: once({
        succeed: () => {
          this.pairs.delete(pairKey);
          this.accounts.unhit(account);
        },
        fail: () => {},
        release: () => {
          this.accounts.unhit(account);
          this.ips.unhit(ip);
          const current = this.pairs.get(pairKey);
          if (!current) return;
          current.failures = Math.max(0, current.failures - 1);
          if (current.failures === before.failures) current.lastFailureAt = before.lastFailureAt;
          if (current.failures === 0) this.pairs.delete(pairKey);
        },
      }),
    };
  }

  /** Seconds this address must wait before trying this account again (0: it may try now). */
  private pairWait(pairKey: string, account: string, now: number): number {
    const pair = this.pairs.get(pairKey);
    if (!pair || pair.failures === 0 || this.forgotten(pair, now)) return 0;
    const free = this.accounts.reached(account, now) ? 0 : this.options.freeFailures;
    if (pair.failures < free) return 0;
    const until = pair.lastFailureAt + this.delayMs(pair.failures - free);
    return until > now ? Math.max(1, Math.ceil((until - now) / 1000)) : 0;
  }

  private delayMs(overFree: number): number {
    // 2^30 is far past any sensible cap; stopping there keeps the number finite.
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(overFree, 30));
  }

  private forgotten(pair: PairState, now: number): boolean {
    return now - pair.lastFailureAt > 2 * this.options.maxDelayMs;
  }

  private sweep(now = Date.now()): void {
    for (const [key, pair] of this.pairs) if (this.forgotten(pair, now)) this.pairs.delete(key);
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.accounts.close();
    this.ips.close();
    this.devices.close();
  }
}

/** A reservation settles once: a second call (an error path after a success, say) does nothing. */
function once(r: Reservation): Reservation {
  let settled = false;
  const guard = (fn: () => void) => () => {
    if (settled) return;
    settled = true;
    fn();
  };
  return { succeed: guard(r.succeed), fail: guard(r.fail), release: guard(r.release) };
}
