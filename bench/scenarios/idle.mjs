// Idle connections: N authenticated clients connect and stay silent. Measures server memory per
// connection and the connection set-up rate (handshake through Chatter's hello / Socket.IO's
// namespace connect).
//
// Memory is read the same way for every target, before the clients connect and after they are all
// in and quiet: a forced full GC through the inspector (every target runs with
// --inspect=127.0.0.1:0 here), then VmRSS and the V8 heap in use, several times; the figure of a
// round is (median after - median before) / connections. Without the GC, the garbage the set-up
// left (handshakes, hello frames, session look-ups) counted as held memory, and one reading a round
// moved the figure by 20% between runs.
import { readMemoryKiB } from '../lib/proc.mjs';
import { spread } from '../lib/stats.mjs';
import { sleep, waitQuiet } from '../load/clients.mjs';
import { heapByKind, heapGrowth } from '../lib/heap.mjs';
import { connectInspector, memoryAfterGc, takeHeapSnapshot } from '../load/inspector.mjs';
import { closeWindow, openWindow } from '../load/measure.mjs';
import { maybeProfile } from '../load/profiler.mjs';
import { connectClients } from './fanout.mjs';
import { atScale, countsText, label, num, pct, ratio, table, verdictTable } from '../report/format.mjs';

const TARGETS = ['chatter', 'socketio', 'ws-floor'];

/** Memory samples (each after a forced GC) per reading. */
export const MEMORY_SAMPLES = 5;

/** Chatter's target, KB (1,000 bytes) of server RSS per idle authenticated connection at 10,000 (issue 4). */
export const RSS_TARGET_KB = 8;

/** One round's figures per connection, in KiB, from its memory readings. */
export function perConnection({ before, after, connected, rawBefore, rawAfter }) {
  const n = Math.max(1, connected);
  const diff = (a, b) => (typeof a === 'number' && typeof b === 'number' ? (a - b) / n : null);
  return {
    rssKiB: diff(after?.rss.median, before?.rss.median),
    heapKiB: diff(after?.heapUsed.median, before?.heapUsed.median),
    rawRssKiB: diff(rawAfter, rawBefore),
  };
}

/** The figures of one target over its rounds: the spread of each. */
export function aggregateIdle(results) {
  const s = (get) => spread(results.map(get));
  return {
    clients: results[0]?.clients ?? 0,
    rounds: results.length,
    connected: Math.min(...results.map((r) => r.connected)),
    stillOpen: Math.min(...results.map((r) => r.stillOpen)),
    setupPerSec: s((r) => r.setupPerSec),
    setupCpu: s((r) => r.setupCpuMicrosPerConnection),
    rssKiB: s((r) => r.perConnection?.rssKiB),
    heapKiB: s((r) => r.perConnection?.heapKiB),
    rawRssKiB: s((r) => r.perConnection?.rawRssKiB ?? r.perConnectionKiB),
    rssAfterMiB: s((r) => (r.memoryAfter?.rss.median ?? r.rssAfterKiB) / 1024),
    hwmMiB: s((r) => r.hwmKiB / 1024),
    generatorCpuShare: s((r) => r.generatorCpuShare),
    closeCodes: results.map((r) => r.closeCodes),
    errors: results.map((r) => r.connectErrors),
  };
}

export default {
  id: 'idle',
  title: 'Idle connections',
  targets: TARGETS,

  plan({ quick }) {
    const clients = quick ? 500 : 10000;
    // Set-up is bounded: a server that connects clients slowly is reported as such, not waited for.
    // Chatter is judged: 3 rounds, its figures the median with min-max; the context peers get one.
    return {
      rounds: quick ? 1 : 3,
      targetRounds: { socketio: 1, 'ws-floor': 1 },
      chatterUsers: clients,
      inspect: true,
      steps: [{ key: String(clients), params: { clients, settleMs: 500, samples: MEMORY_SAMPLES, deadlineMs: quick ? 30000 : 60000 } }],
    };
  },

  summaryLine(r) {
    const f = (v) => (typeof v === 'number' ? num(v, 2) : '–');
    return `${num(r.connected)}/${num(r.clients)} connected at ${num(r.setupPerSec)}/s; per connection after GC: RSS ${f(r.perConnection?.rssKiB)} KiB, heap ${f(r.perConnection?.heapKiB)} KiB (no GC: ${f(r.perConnection?.rawRssKiB)} KiB)`;
  },

  async load(p, { target, tokens, log }) {
    const pid = target.pid;
    if (!target.inspectorUrl) throw new Error('the idle scenario reads memory through the inspector: start the target with inspect');
    const inspector = await connectInspector(target.inspectorUrl);
    try {
      await sleep(300);
      const rawBefore = readMemoryKiB(pid)?.rss ?? null;
      const before = await memoryAfterGc(pid, inspector, { samples: p.samples });
      // A profiled run (uncounted: a snapshot leaves the allocator holding pages) also says which
      // objects a connection costs: the heap's growth by kind, per connection.
      const heapBefore = target.profile ? heapByKind(await takeHeapSnapshot(inspector)) : null;
      const profiler = await maybeProfile(target, 'idle-setup');
      const win = openWindow(pid);
      const { clients, connected } = await connectClients(target, tokens, p.clients, { passive: true, deadlineMs: p.deadlineMs });
      const setup = closeWindow(win);
      await profiler?.stop();
      log('connected', connected);
      const quietMs = await waitQuiet({ quietMs: 1000, maxMs: 20000 });
      await sleep(p.settleMs);
      const rawAfter = readMemoryKiB(pid);
      const after = await memoryAfterGc(pid, inspector, { samples: p.samples });
      const heap = heapBefore ? heapGrowth(heapBefore, heapByKind(await takeHeapSnapshot(inspector)), Math.max(1, connected.ok)) : undefined;
      const stillOpen = clients.filter((c) => c.ready).length;
      const closeCodes = {};
      for (const c of clients) for (const code of c.closes) closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      for (const c of clients) c.close();
      return {
        clients: p.clients,
        connected: connected.ok,
        failed: connected.failed,
        connectErrors: connected.errors,
        stillOpen,
        closeCodes,
        setupMs: connected.ms,
        setupPerSec: connected.ok / (connected.ms / 1000),
        setupCpuMicrosPerConnection: setup.serverCpuMicros === null ? null : setup.serverCpuMicros / Math.max(1, connected.ok),
        quietAfterMs: quietMs,
        memoryBefore: before,
        memoryAfter: after,
        rssBeforeKiB: rawBefore,
        rssAfterKiB: rawAfter?.rss ?? null,
        hwmKiB: rawAfter?.hwm ?? null,
        perConnection: perConnection({ before, after, connected: connected.ok, rawBefore, rawAfter: rawAfter?.rss }),
        generatorCpuShare: setup.selfCpuShare,
        heapGrowth: heap,
      };
    } finally {
      inspector.close();
    }
  },

  /** With --profile, one uncounted Chatter run that also diffs two heap snapshots (see `load`). */
  report(runs, { targets, profileRuns = [] }) {
    const agg = {};
    for (const t of targets) {
      const rs = runs.filter((r) => r.target === t && r.result).map((r) => r.result);
      if (rs.length) agg[t] = aggregateIdle(rs);
    }
    const n = Object.values(agg)[0]?.clients ?? 0;
    const others = targets.filter((t) => t !== 'chatter');
    const hasC = Boolean(agg.chatter);
    const header = ['Metric', ...targets.map(label), ...(hasC ? others.map((o) => `Chatter / ${label(o)}`) : [])];
    const fig = (sp, digits) => (sp.n === 0 ? '–' : sp.n > 1 ? `${num(sp.median, digits)} (${num(sp.min, digits)}–${num(sp.max, digits)})` : num(sp.median, digits));
    const metrics = [
      ['connected (fewest in a round)', (a) => a.connected, (v) => num(v), false],
      ['still open after settling', (a) => a.stillOpen, (v) => num(v), false],
      ['set-up rate (connections/s)', (a) => a.setupPerSec, 0, true],
      ['server CPU per connection set-up (µs)', (a) => a.setupCpu, 0, true],
      ['**RSS per connection, after a forced GC (KiB)**', (a) => a.rssKiB, 2, true],
      ['V8 heap in use per connection, after a forced GC (KiB)', (a) => a.heapKiB, 2, true],
      ['RSS per connection without a forced GC (KiB; the method before)', (a) => a.rawRssKiB, 2, true],
      ['RSS with all connected, after GC (MB)', (a) => a.rssAfterMiB, 0, true],
      ['peak RSS (MB)', (a) => a.hwmMiB, 0, true],
      ['generator CPU during set-up', (a) => a.generatorCpuShare, 'pct', false],
    ];
    const cell = (a, get, fmt) => {
      const v = get(a);
      if (typeof fmt === 'function') return fmt(v);
      if (fmt === 'pct') return v.n === 0 ? '–' : v.n > 1 ? `${pct(v.median)} (${pct(v.min)}–${pct(v.max)})` : pct(v.median);
      return fig(v, fmt);
    };
    const rows = metrics.map(([name, get, fmt, ratioOk]) => [
      name,
      ...targets.map((t) => (agg[t] ? cell(agg[t], get, fmt) : '–')),
      ...(hasC ? others.map((o) => (agg[o] && ratioOk ? ratio(get(agg.chatter).median, get(agg[o]).median) : '')) : []),
    ]);
    const rounds = [...new Set(Object.values(agg).map((a) => a.rounds))].sort((x, y) => y - x);
    const lines = [
      `${num(n)} clients connect (at most 400 handshakes in flight, below Node's listen backlog) and stay idle: Chatter clients authenticated with \`Authorization: Bearer\` and \`history=0\`; Socket.IO clients connected to the default namespace; floor clients open. Memory is read the same way for every target, before the clients connect and once they are all in and quiet: ${MEMORY_SAMPLES} times a forced full GC through the inspector (each server runs with \`--inspect=127.0.0.1:0\`, \`HeapProfiler.collectGarbage\`), then \`VmRSS\` and the V8 heap in use; per connection = (median after − median before) / connections. Without the GC the garbage of the set-up counted as held memory, and a single reading moved the figure by ~20% between runs; that reading is kept as a row for comparison. Each figure is the median over the rounds on fresh servers with its min–max (Chatter ${rounds[0] ?? 0} round(s)${rounds.length > 1 ? `, the context peers ${rounds.slice(1).join('/')}` : ''}).`,
      '',
      table(header, rows),
    ];
    for (const t of targets) {
      if (!agg[t]) continue;
      const closes = agg[t].closeCodes.map(countsText).filter((x) => x !== 'none');
      const errs = agg[t].errors.map(countsText).filter((x) => x !== 'none');
      if (closes.length) lines.push('', `- ${label(t)}: connections closed by the server: ${closes.join('; ')}`);
      if (errs.length) lines.push('', `- ${label(t)}: connection failures: ${errs.join('; ')}`);
    }
    const profiled = profileRuns.find((r) => r.target === 'chatter' && r.result?.heapGrowth)?.result;
    if (profiled) {
      const rows = profiled.heapGrowth.map((k) => [k.name ? `${k.name} (${k.type})` : k.type, num(k.count, 2), num(k.bytes)]);
      const listed = profiled.heapGrowth.reduce((a, k) => a + k.bytes, 0);
      lines.push('', `Where a Chatter connection's heap goes (the profiled run, uncounted: ${num(profiled.connected)} connections; the heap's growth between a snapshot before they connect and one after, by kind of object, self sizes divided by the connections; the listed kinds sum to ${num(listed)} bytes a connection):`, '', table(['Object (V8 type)', 'Per connection', 'Bytes per connection'], rows));
    }
    const verdicts = [];
    if (agg.chatter) {
      const kb = (v) => (typeof v === 'number' ? (v * 1024) / 1000 : null);
      const c = agg.chatter.rssKiB;
      const peer = (t) => (agg[t] ? `${num(kb(agg[t].rssKiB.median), 2)} KB` : '–');
      verdicts.push(
        atScale(
          {
            target: `≤ ${RSS_TARGET_KB} KB server RSS per idle authenticated connection at ${num(n)} connections (after a forced GC; issue 10 asks ≤ 6 KB at 100,000, the opt-in connections-100k scenario)`,
            measured: `${num(kb(c.median), 2)} KB${c.n > 1 ? ` (${num(kb(c.min), 2)}–${num(kb(c.max), 2)})` : ''}, heap ${num(kb(agg.chatter.heapKiB.median), 2)} KB (Socket.IO ${peer('socketio')}, floor ${peer('ws-floor')})`,
            met: c.n === 0 ? null : agg.chatter.connected === n ? kb(c.median) <= RSS_TARGET_KB : false,
          },
          n,
          10_000,
          'connections',
        ),
      );
      lines.push('', verdictTable(verdicts));
    }
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};
