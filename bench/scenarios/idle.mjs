// Idle connections: N authenticated clients connect and stay silent. Measures server RSS per
// connection (RSS after all are connected and the server is quiet, minus RSS before, over N) and
// the connection set-up rate (handshake through Chatter's hello / Socket.IO's namespace connect).
import { readMemoryKiB } from '../lib/proc.mjs';
import { sleep, waitQuiet } from '../load/clients.mjs';
import { closeWindow, openWindow } from '../load/measure.mjs';
import { maybeProfile } from '../load/profiler.mjs';
import { connectClients } from './fanout.mjs';
import { atScale, countsText, label, maxOf, num, pct, ratio, sum, table, verdictTable } from '../report/format.mjs';

const TARGETS = ['chatter', 'socketio', 'ws-floor'];

export default {
  id: 'idle',
  title: 'Idle connections',
  targets: TARGETS,

  plan({ quick }) {
    const clients = quick ? 500 : 10000;
    // Set-up is bounded: a server that connects clients slowly is reported as such, not waited for.
    // Context peers get one round (the time went to the many-rooms scenario); Chatter two.
    return { rounds: quick ? 1 : 2, targetRounds: { socketio: 1, 'ws-floor': 1 }, chatterUsers: clients, steps: [{ key: String(clients), params: { clients, settleMs: quick ? 1000 : 3000, deadlineMs: quick ? 30000 : 60000 } }] };
  },

  summaryLine(r) {
    return `${num(r.connected)}/${num(r.clients)} connected at ${num(r.setupPerSec)}/s, ${num(r.perConnectionKiB, 2)} KiB RSS per connection`;
  },

  async load(p, { target, tokens, log }) {
    const pid = target.pid;
    await sleep(500);
    const before = readMemoryKiB(pid);
    const profiler = await maybeProfile(target, 'idle-setup');
    const win = openWindow(pid);
    const { clients, connected } = await connectClients(target, tokens, p.clients, { passive: true, deadlineMs: p.deadlineMs });
    const setup = closeWindow(win);
    await profiler?.stop();
    log('connected', connected);
    const quietMs = await waitQuiet({ quietMs: 1000, maxMs: 20000 });
    await sleep(p.settleMs);
    const after = readMemoryKiB(pid);
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
      rssBeforeKiB: before?.rss ?? null,
      rssAfterKiB: after?.rss ?? null,
      hwmKiB: after?.hwm ?? null,
      perConnectionKiB: before && after ? (after.rss - before.rss) / Math.max(1, connected.ok) : null,
      generatorCpuShare: setup.selfCpuShare,
    };
  },

  report(runs, { targets }) {
    const agg = {};
    for (const t of targets) {
      const rs = runs.filter((r) => r.target === t && r.result).map((r) => r.result);
      if (!rs.length) continue;
      agg[t] = {
        clients: rs[0].clients,
        rounds: rs.length,
        connected: Math.min(...rs.map((r) => r.connected)),
        stillOpen: Math.min(...rs.map((r) => r.stillOpen)),
        setupPerSec: sum(rs.map((r) => r.connected)) / (sum(rs.map((r) => r.setupMs)) / 1000),
        setupCpu: sum(rs.map((r) => r.setupCpuMicrosPerConnection)) / rs.length,
        perConnectionKiB: sum(rs.map((r) => r.perConnectionKiB)) / rs.length,
        rssAfterMiB: maxOf(rs.map((r) => r.rssAfterKiB)) / 1024,
        hwmMiB: maxOf(rs.map((r) => r.hwmKiB)) / 1024,
        generatorCpuShare: maxOf(rs.map((r) => r.generatorCpuShare)),
        closeCodes: rs.map((r) => r.closeCodes),
        errors: rs.map((r) => r.connectErrors),
      };
    }
    const n = Object.values(agg)[0]?.clients ?? 0;
    const others = targets.filter((t) => t !== 'chatter');
    const hasC = Boolean(agg.chatter);
    const header = ['Metric', ...targets.map(label), ...(hasC ? others.map((o) => `Chatter / ${label(o)}`) : [])];
    const metrics = [
      ['connected', (a) => a.connected, (v) => num(v)],
      ['still open after settling', (a) => a.stillOpen, (v) => num(v)],
      ['set-up rate (connections/s)', (a) => a.setupPerSec, (v) => num(v)],
      ['server CPU per connection set-up (µs)', (a) => a.setupCpu, (v) => num(v)],
      ['RSS per connection (KiB)', (a) => a.perConnectionKiB, (v) => num(v, 2)],
      ['RSS with all connected (MB)', (a) => a.rssAfterMiB, (v) => num(v)],
      ['peak RSS (MB)', (a) => a.hwmMiB, (v) => num(v)],
      ['generator CPU during set-up', (a) => a.generatorCpuShare, (v) => pct(v)],
    ];
    const rows = metrics.map(([name, get, fmt]) => [
      name,
      ...targets.map((t) => (agg[t] ? fmt(get(agg[t])) : '–')),
      ...(hasC ? others.map((o) => (agg[o] && !name.startsWith('generator') && !name.startsWith('connected') && !name.startsWith('still') ? ratio(get(agg.chatter), get(agg[o])) : '')) : []),
    ]);
    const lines = [
      `${num(n)} clients connect (at most 400 handshakes in flight, below Node's listen backlog) and stay idle: Chatter clients authenticated with \`Authorization: Bearer\` and \`history=0\`; Socket.IO clients connected to the default namespace; floor clients open. RSS per connection = (RSS after all connected and quiet − RSS before) / connections, averaged over ${num(Math.max(...Object.values(agg).map((a) => a.rounds)))} round(s) on fresh servers; no GC is forced, as in production.`,
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
    const verdicts = [];
    if (agg.chatter) {
      const kb = (agg.chatter.perConnectionKiB * 1024) / 1000;
      verdicts.push({
        target: `≤ 8 KB server RSS per idle authenticated connection at ${num(n)} connections`,
        measured: `${num(kb, 2)} KB (Socket.IO ${agg.socketio ? num((agg.socketio.perConnectionKiB * 1024) / 1000, 2) : '–'} KB, floor ${agg['ws-floor'] ? num((agg['ws-floor'].perConnectionKiB * 1024) / 1000, 2) : '–'} KB)`,
        met: agg.chatter.connected === n ? kb <= 8 : false,
      });
      verdicts[0] = atScale(verdicts[0], n, 10_000, 'connections');
      lines.push('', verdictTable(verdicts));
    }
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};
