// The logins scenario's report: each figure the median over rounds with min-max, the ratio per
// round beside it, and the verdict on the ratio of the medians (not on histograms merged over rounds,
// where one bad round sets the p99 of all).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Histogram } from '../lib/stats.mjs';
import logins, { loginRound } from '../scenarios/logins.mjs';

/** A window whose p99 is `p99Ms` (99 samples at 10 ms, 2 at the p99). */
function window(p99Ms: number) {
  const h = new Histogram();
  for (let i = 0; i < 98; i++) h.record(10_000);
  h.record(p99Ms * 1000);
  h.record(p99Ms * 1000);
  return { latency: h.toJSON(), deliveredPerSec: 100_000, undelivered: 0, serverCpuShare: 0.6, windowMs: 3000 };
}

function run(aloneP99: number, withP99: number) {
  const lat = new Histogram();
  lat.record(3_000_000);
  return {
    target: 'chatter',
    params: { clients: 1000, rate: 100, loginRate: 20, loginUsers: 4 },
    result: {
      alone: window(aloneP99),
      withLogins: window(withP99),
      logins: { rate: 20, started: 60, completed: 18, completedInWindow: 15, unfinished: 42, statuses: { 200: 18 }, latency: lat.toJSON() },
    },
  };
}

describe('logins during fan-out', () => {
  test('reads one round: the p99 of each window', () => {
    const r = loginRound(run(30, 45).result);
    assert.ok(Math.abs(r.alone.p99 - 30_000) / 30_000 < 0.01);
    assert.ok(Math.abs(r.with.p99 - 45_000) / 45_000 < 0.01);
  });

  test('judges the ratio of the median p99s, and shows each round\'s ratio', () => {
    // Rounds: 30 -> 33, 35 -> 41, 40 -> 120 (a bad round). Medians 35 and 41: 1.17x, met; merging
    // the histograms would have let the bad round set the p99.
    const report = logins.report([run(30, 33), run(35, 41), run(40, 120)]);
    const v = report.verdicts[0];
    assert.equal(v.met, true);
    assert.match(v.measured, /^41\.\d ms vs 3[45]\.\d ms alone \(1\.1\d×; per round 1\.\d\d–3\.0\d×\)$/);
    assert.match(report.markdown, /\| \*\*chat latency p99 \(ms\)\*\* \| 3[45]\.\d \(30\.\d–40\.\d\) \| 41\.\d \(3\d\.\d–120\.\d\) \| 1\.1\d× \(1\.\d\d×–3\.00×\) \|/);
    assert.match(report.markdown, /42 still queued when the window and its drain ended|126 still queued/);
    const worse = logins.report([run(30, 40), run(35, 45), run(40, 50)]);
    assert.equal(worse.verdicts[0].met, false, '45 / 35 = 1.29x');
  });

  test('does not wait for logins left in the queue after the window', () => {
    assert.equal(logins.plan({ quick: false }).steps[0].params.loginTailMs, 0);
    assert.equal(logins.plan({ quick: false }).rounds, 3);
  });
});

describe('logins with synchronous=NORMAL as an A/B', () => {
  test('runs only when asked for, and is reported apart from the verdict', () => {
    assert.deepEqual(logins.defaultTargets, ['chatter']);
    assert.ok(logins.targets.includes('chatter-syncnormal'));
    const normal = (a: number, w: number) => ({ ...run(a, w), target: 'chatter-syncnormal' });
    const report = logins.report([run(30, 40), normal(30, 31), run(35, 45), normal(35, 36), run(40, 50), normal(40, 41)]);
    assert.equal(report.verdicts.length, 1);
    assert.equal(report.verdicts[0].met, false, 'judged on Chatter alone');
    assert.match(report.markdown, /synchronous=NORMAL.*chat p99 3[45]\.\d \(30\.\d–40\.\d\) ms alone, 36\.\d \(3\d\.\d–4\d\.\d\) ms with logins, 1\.0\d×/);
  });
});
