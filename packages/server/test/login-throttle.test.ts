import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginThrottle, type LoginVerdict } from '../src/auth/throttle.js';

/*
 * The throttle's arithmetic on an explicit clock. The end-to-end tests (accounts-throttle) run it
 * through real sign-ins, whose bcrypt time on a loaded machine eats into each wait; here the waits
 * are exact.
 */
test('after the free failures each failure doubles the wait, counted from the attempt, up to the longest wait', () => {
  const throttle = new LoginThrottle({ freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 8000, maxPerAccount: 100, accountWindowMs: 900_000, maxPerIp: 100, ipWindowMs: 900_000 });
  try {
    const who = { account: 'ana', ip: '10.0.0.1' };
    const attempt = (now: number): LoginVerdict => throttle.reserve(who, now);
    const failAt = (now: number) => {
      const verdict = attempt(now);
      assert.ok(verdict.ok, `attempt at ${now} was refused`);
      verdict.reservation.fail();
    };
    let t = 1_000_000;
    for (let i = 0; i < 3; i++) failAt(t);
    assert.deepEqual(attempt(t), { ok: false, retryAfter: 1 });
    // Each wait starts at the failed attempt, and the next is twice as long: 1 s, 2 s, 4 s, then capped at 8 s.
    for (const wait of [1, 2, 4, 8, 8]) {
      t += wait * 1000;
      failAt(t);
      const next = Math.min(wait * 2, 8);
      assert.deepEqual(attempt(t), { ok: false, retryAfter: next });
      assert.deepEqual(attempt(t + next * 1000 - 1), { ok: false, retryAfter: 1 }, 'still waiting a millisecond before the end');
    }
    // Another address is not slowed by this one's failures.
    assert.ok(throttle.reserve({ account: 'ana', ip: '10.0.0.2' }, t).ok);
  } finally {
    throttle.close();
  }
});
