// The idle scenario's memory method: memory is read after a forced GC through the inspector, so
// garbage does not count and held memory does; per-connection figures and their spread over rounds;
// and the heap snapshot's growth by kind of object.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { heapByKind, heapGrowth } from '../lib/heap.mjs';
import { startTarget } from '../lib/targets.mjs';
import { connectInspector, memoryAfterGc, takeHeapSnapshot } from '../load/inspector.mjs';
import idle, { aggregateIdle, perConnection } from '../scenarios/idle.mjs';

const KiB = 1024;

describe('memory after a forced GC, through the inspector', () => {
  let server: Awaited<ReturnType<typeof startTarget>>;
  let inspector: Awaited<ReturnType<typeof connectInspector>>;
  const evaluate = (expression: string) => inspector.call('Runtime.evaluate', { expression });

  before(async () => {
    server = await startTarget('ws-floor', { inspect: true });
    assert.ok(server.inspectorUrl, 'the target was started with an inspector');
    inspector = await connectInspector(server.inspectorUrl);
  });
  after(async () => {
    inspector?.close();
    await server?.stop();
  });

  test('garbage is not counted, held objects are', async () => {
    const base = await memoryAfterGc(server.pid, inspector, { samples: 3, pauseMs: 20 });
    assert.equal(base.rss.n, 3);
    assert.equal(base.heapUsed.n, 3);
    // 200,000 small objects (several MB) made and dropped: without the GC they would still sit in the heap.
    await evaluate('{ let a = []; for (let i = 0; i < 200000; i++) a.push({ i, s: "x" + i }); a.length; }');
    const afterGarbage = await memoryAfterGc(server.pid, inspector, { samples: 3, pauseMs: 20 });
    assert.ok(afterGarbage.heapUsed.median! - base.heapUsed.median! < 512, `garbage counted: ${afterGarbage.heapUsed.median! - base.heapUsed.median!} KiB`);
    await evaluate('globalThis.held = []; for (let i = 0; i < 200000; i++) globalThis.held.push({ i, s: "x" + i }); held.length');
    const afterHeld = await memoryAfterGc(server.pid, inspector, { samples: 3, pauseMs: 20 });
    assert.ok(afterHeld.heapUsed.median! - base.heapUsed.median! > 4 * KiB, `held objects missing: ${afterHeld.heapUsed.median! - base.heapUsed.median!} KiB`);
    await evaluate('delete globalThis.held');
  });

  test("a heap snapshot's growth names the kind of object that was added, per unit", async () => {
    const first = heapByKind(await takeHeapSnapshot(inspector));
    await evaluate('class BenchHeld { constructor(i) { this.i = i; this.j = i; } }; globalThis.kept = Array.from({ length: 1000 }, (_, i) => new BenchHeld(i)); 0');
    const second = heapByKind(await takeHeapSnapshot(inspector));
    const growth = heapGrowth(first, second, 1000);
    const held = growth.find((k) => k.name === 'BenchHeld');
    assert.ok(held, `BenchHeld is listed: ${JSON.stringify(growth.slice(0, 5))}`);
    assert.equal(held.type, 'object');
    assert.equal(held.count, 1);
    assert.ok(held.bytes >= 16 && held.bytes <= 64, `${held.bytes} bytes each`);
    await evaluate('delete globalThis.kept');
  });
});

describe('the idle figures', () => {
  const reading = (rss: number, heapUsed: number) => ({ rss: { median: rss, min: rss, max: rss, n: 1 }, heapUsed: { median: heapUsed, min: heapUsed, max: heapUsed, n: 1 } });

  test('per connection: the medians after GC minus before, over the connections; the raw reading kept', () => {
    const f = perConnection({ before: reading(100_000, 10_000), after: reading(190_000, 60_000), connected: 10_000, rawBefore: 120_000, rawAfter: 240_000 });
    assert.deepEqual(f, { rssKiB: 9, heapKiB: 5, rawRssKiB: 12 });
    assert.deepEqual(perConnection({ before: null, after: reading(1, 1), connected: 0, rawBefore: null, rawAfter: 5 }), { rssKiB: null, heapKiB: null, rawRssKiB: null });
  });

  test('rounds give a median with min-max; the plan reads every target through the inspector, Chatter in 3 rounds', () => {
    const round = (rssKiB: number) => ({ clients: 10_000, connected: 10_000, stillOpen: 10_000, setupPerSec: 1000, setupCpuMicrosPerConnection: 700, perConnection: { rssKiB, heapKiB: rssKiB / 2, rawRssKiB: rssKiB + 1 }, memoryAfter: reading(200_000, 1), hwmKiB: 210_000, generatorCpuShare: 0.5, closeCodes: {}, connectErrors: {} });
    const a = aggregateIdle([round(7), round(9), round(8)]);
    assert.deepEqual(a.rssKiB, { median: 8, min: 7, max: 9, n: 3 });
    assert.equal(a.heapKiB.median, 4);
    const plan = idle.plan({ quick: false });
    assert.equal(plan.rounds, 3);
    assert.equal(plan.inspect, true);
    const report = idle.report(
      ['chatter', 'chatter', 'chatter'].map((target, i) => ({ target, result: round([7, 9, 8][i]!) })),
      { targets: ['chatter'] },
    );
    assert.match(report.markdown, /RSS per connection, after a forced GC \(KiB\)\*\* \| 8\.00 \(7\.00–9\.00\) \|/);
    assert.equal(report.verdicts[0].met, false, '8 KiB is 8.19 KB, over 8 KB');
    assert.match(report.verdicts[0].measured, /^8\.19 KB \(7\.17–9\.22\)/);
  });
});
