// Spread, not the best run: the fan-out report gives each figure as the median over its rounds with
// the min-max, takes ratios of medians, and judges every verdict at the medians.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Histogram, spread } from '../lib/stats.mjs';
import fanout, { aggregate, generatorBound } from '../scenarios/fanout.mjs';
import { lineChart } from '../report/svg.mjs';

type Round = { cpu: number; p50: number; p99: number; generator?: number; late?: number; duplicates?: number };

/** One synthetic round: 1,000 clients, 1 s window; latencies in µs, CPU in µs per delivery. */
const run = (target: string, rate: number, round: number, { cpu, p50, p99, generator = 0.4, late = 0, duplicates = 0 }: Round) => {
  const latency = new Histogram();
  for (let i = 0; i < 98; i++) latency.record(p50);
  latency.record(p99);
  latency.record(p99);
  const delivered = rate * 1000;
  return {
    target,
    round,
    params: { rate, clients: 1000 },
    result: {
      latency: latency.toJSON(), windowMs: 1000, deliveredInWindow: delivered, serverCpuMicros: cpu * delivered, serverSysMicros: (cpu * delivered) / 4,
      undelivered: late, duplicates, rssKiB: 100_000 + round * 1024, generatorCpuShare: generator, closesDuring: 0, closeCodes: {}, errors: {},
    },
  };
};

/** Three rounds of each target at each rate, from per-round figures (one entry per round). */
const rounds = (target: string, rate: number, list: Round[]) => list.map((r, i) => run(target, rate, i, r));
const targets = ['chatter', 'ws-coalesce', 'ws-floor', 'socketio'];
const floorRounds = (rate: number) => [
  ...rounds('ws-coalesce', rate, [{ cpu: 2, p50: 4000, p99: 10_000 }, { cpu: 2, p50: 4000, p99: 10_000 }, { cpu: 2, p50: 4000, p99: 10_000 }]),
  ...rounds('ws-floor', rate, [{ cpu: 4, p50: 4000, p99: 9000 }, { cpu: 4, p50: 4000, p99: 9000 }, { cpu: 4, p50: 4000, p99: 9000 }]),
  ...rounds('socketio', rate, [{ cpu: 8, p50: 4000, p99: 9000, late: 500 }, { cpu: 8, p50: 4000, p99: 9000 }, { cpu: 8, p50: 4000, p99: 9000, late: 250 }]),
];

describe('spread over rounds', () => {
  test('median with min and max; an even count averages the middle two; missing values are left out', () => {
    assert.deepEqual(spread([12, 50, 10]), { median: 12, min: 10, max: 50, n: 3 });
    assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
    assert.deepEqual(spread([7, null, undefined, NaN]), { median: 7, min: 7, max: 7, n: 1 });
    assert.deepEqual(spread([]), { median: null, min: null, max: null, n: 0 });
  });

  test('aggregate takes every figure per round, not from pooled rounds', () => {
    const a = aggregate(rounds('chatter', 100, [{ cpu: 1, p50: 5000, p99: 10_000 }, { cpu: 3, p50: 6000, p99: 50_000, late: 7 }, { cpu: 2, p50: 4000, p99: 12_000, duplicates: 2 }]));
    assert.equal(a.rounds, 3);
    // Latencies go through each round's histogram (within 1% of the recorded value).
    const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) <= expected * 0.01, `${actual} vs ${expected}`);
    near(a.spread.p99.median, 12_000);
    near(a.spread.p99.min, 10_000);
    near(a.spread.p99.max, 50_000);
    assert.equal(a.lat.p99, a.spread.p99.median, 'the verdicts read the median round');
    near(a.spread.p50.median, 5000);
    near(a.spread.p50.min, 4000);
    near(a.spread.p50.max, 6000);
    assert.deepEqual(a.spread.cpuPerDelivery, { median: 2, min: 1, max: 3, n: 3 });
    assert.equal(a.cpuPerDelivery, 2);
    assert.equal(a.spread.kernelShare.median, 0.25);
    assert.equal(a.spread.deliveredPerSec.median, 100_000);
    assert.deepEqual(a.spread.rssKiB, { median: 101_024, min: 100_000, max: 102_048, n: 3 });
    // Losses and duplicates are totals: one in any round matters.
    assert.equal(a.late, 7);
    assert.equal(a.lateRounds, 1);
    assert.equal(a.duplicates, 2);
    assert.equal(aggregate([]), null);
  });
});

describe('the fan-out report at the medians', () => {
  const runs = [
    // 100 msg/s: p99 met at the median though one round was 3x the floor; CPU met in its best
    // round (0.5x) but not at the median (1.5x); one generator-bound round out of three, judged.
    ...rounds('chatter', 100, [
      { cpu: 1, p50: 5000, p99: 8000, generator: 0.95 },
      { cpu: 3, p50: 5000, p99: 9000 },
      { cpu: 3, p50: 5000, p99: 30_000 },
    ]),
    ...floorRounds(100),
    // 1,000 msg/s: generator-bound in two rounds of three, so at the median: nothing judged.
    ...rounds('chatter', 1000, [
      { cpu: 1, p50: 5000, p99: 9000, generator: 0.95 },
      { cpu: 1, p50: 5000, p99: 9000, generator: 0.97 },
      { cpu: 1, p50: 5000, p99: 9000, generator: 0.5 },
    ]),
    ...floorRounds(1000),
  ];
  const report = fanout.report(runs, { targets });
  const at = (prefix: string) => report.verdicts.find((v: { target: string }) => v.target.startsWith(prefix));

  test('shows each figure as its median with the min–max range', () => {
    assert.match(report.markdown, /\| 100 \| latency p99 \(ms\) \| 9\.0 \(8\.0–30\.0\) \| 10\.0 \(10\.0–10\.0\) \|/);
    assert.match(report.markdown, /\| 100 \| server CPU µs \/ delivery \| 3\.00 \(1\.00–3\.00\) \| 2\.00 \(2\.00–2\.00\) \|/);
    assert.match(report.markdown, /\| 100 \| server RSS \(MB\) \| 99 \(98–100\) \|/);
    assert.match(report.markdown, /median over the rounds, with the min–max range in brackets/);
    assert.match(report.markdown, /3 round\(s\) per target and rate/);
  });

  test('ratios are ratios of medians', () => {
    // CPU: 3 / 2, 3 / 4, 3 / 8 at the medians; p99: 9 / 10.
    assert.match(report.markdown, /\| 100 \| server CPU µs \/ delivery \|[^\n]*\| 1\.50× \| 0\.75× \| 0\.38× \|/);
    assert.match(report.markdown, /\| 100 \| latency p99 \(ms\) \|[^\n]*\| 0\.90× \| 1\.00× \| 1\.00× \|/);
  });

  test('a verdict holds only if it holds at the median', () => {
    const cpu = at('Server CPU per delivery at 100 msg/s');
    assert.equal(cpu.met, false, 'met in the best round (1 vs 2 µs), not at the median (3 vs 2 µs)');
    assert.match(cpu.measured, /^3\.00 µs \(1\.00–3\.00\) vs 2\.00 µs \(2\.00–2\.00\): 1\.50× at the medians$/);
    const p99 = at('p99 latency at 100 msg/s');
    assert.equal(p99.met, true, 'one bad round (3x the floor) does not fail the median (0.9x)');
    assert.equal(at('p50 latency at 100 msg/s').met, true);
    assert.match(report.markdown, /judged on the medians over the rounds/);
  });

  test('a round is generator-bound by its own share; a rate is judged on the median share', () => {
    // 100 msg/s: one round of three above 90%, median 40%: judged, and said so.
    assert.equal(at('Server CPU per delivery at 100 msg/s').reason, undefined);
    assert.match(report.markdown, /Chatter at 100 msg\/s: the generator was above 90% of its core in 1 of 3 round\(s\), but its median share \(40%\) was not, so the medians are judged\./);
    // 1,000 msg/s: two of three, median 95%: marked and not judged.
    for (const prefix of ['Server CPU per delivery at 1000 msg/s', 'p50 latency at 1000 msg/s', 'p99 latency at 1000 msg/s']) {
      assert.equal(at(prefix).met, null, prefix);
      assert.equal(at(prefix).reason, 'generator-bound');
      assert.match(at(prefix).measured, /median generator share 95%/);
    }
    assert.match(report.markdown, /Chatter at 1000 msg\/s: generator-bound at the median \(median generator share 95% of its core; above 90% in 2 of 3 round\(s\)\)/);
    assert.match(report.markdown, /\| 1,000 \| generator CPU \| 95% \(50%–97%\) \(generator-bound\) \|/);
    assert.ok(generatorBound(aggregate(runs.filter((r) => r.target === 'chatter' && r.params.rate === 1000))));
    assert.ok(!generatorBound(aggregate(runs.filter((r) => r.target === 'chatter' && r.params.rate === 100))));
  });

  test('late deliveries are totals over rounds, in words', () => {
    assert.match(report.markdown, /\| 100 \| late \(still queued at the end of the drain\), total \| 0 \| 0 \| 0 \| 750 \|/);
    assert.match(report.markdown, /Socket\.IO 4 at 100 msg\/s: 750 deliveries late \(still queued at the end of the drain\) over 3 round\(s\), 2 of which had any\./);
    assert.doesNotMatch(report.markdown, /undelivered/i);
    const guarantee = at('Chatter loses no deliveries');
    assert.equal(guarantee.met, true);
    assert.match(guarantee.measured, /0 not received by the end of the drain, over all 6 round\(s\)/);
  });

  test('charts plot the medians with min–max whiskers', () => {
    const p99 = report.charts.find((c: { file: string }) => c.file === 'fanout-p99.svg').svg;
    assert.match(p99, /median of 3 rounds; whiskers: min–max/);
    assert.ok((p99.match(/<path d="M/g) ?? []).length >= 1, 'a whisker where the rounds differ');
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ key: 'chatter', name: 'Chatter', points: [[100, 10, 5, 20], [500, 12, 12, 12]] }] });
    assert.equal((svg.match(/<path d="M/g) ?? []).length, 1, 'no whisker where min = max');
    // The axis reaches the top of the whisker (20), not just the median (12): ticks up to 20 at least.
    assert.match(svg, />20</);
  });

  test('a single round (quick mode) shows no range', () => {
    const one = fanout.report(runs.filter((r) => r.round === 0), { targets });
    assert.match(one.markdown, /\| 100 \| latency max \(ms\) \| 8\.0 \| 10\.0 \| 9\.0 \| 9\.0 \|/);
    assert.match(one.markdown, /\| 100 \| server CPU \| 10% \| 20% \| 40% \| 80% \|/);
    assert.match(one.markdown, /1 round\(s\) per target and rate/);
    assert.doesNotMatch(one.charts[1].svg, /whiskers/);
  });

  test('the full plan runs at least 3 rounds per rate for every target; quick mode 1', () => {
    const full = fanout.plan({ quick: false });
    for (const step of full.steps) assert.ok((step.rounds ?? full.rounds) >= 3, `step ${step.key}`);
    assert.equal(fanout.plan({ quick: true }).rounds, 1);
  });
});
