// Logins during fan-out (Chatter only): the fan-out at 100 msg/s is measured twice on the same
// server and connections, first alone, then while 20 logins per second at bcrypt cost 12 arrive.
// bcrypt must run off the event loop, so the chat's p99 should not move.
import { performance } from 'node:perf_hooks';
import { BENCH_PASSWORD, login, registerUsers } from '../lib/chatter-setup.mjs';
import { Histogram } from '../lib/stats.mjs';
import { sleep, waitQuiet } from '../load/clients.mjs';
import { connectClients, runFanoutWindow } from './fanout.mjs';
import { atScale, countsMerge, countsText, ms, num, pct, table, verdictTable } from '../report/format.mjs';

export default {
  id: 'logins',
  title: 'Logins during fan-out',
  targets: ['chatter'],

  plan({ quick }) {
    const clients = quick ? 200 : 1000;
    // 3 s windows (300,000 latency samples each at 100 msg/s and 1,000 clients, 60 logins), not 5:
    // ~25 s of the suite went to the many-rooms scenario.
    return {
      rounds: quick ? 1 : 3,
      chatterUsers: clients,
      bcryptCost: 12,
      steps: [{ key: '20', params: { clients, senders: 10, rate: 100, loginRate: 20, loginUsers: 4, warmupMs: quick ? 700 : 1000, windowMs: quick ? 2000 : 3000, drainMs: 5000, loginTailMs: quick ? 2000 : 3000 } }],
    };
  },

  summaryLine(r) {
    const p99 = (w) => ms(Histogram.fromJSON(w.latency).percentile(99));
    return `chat p99 ${p99(r.alone)} ms alone, ${p99(r.withLogins)} ms with logins; logins ${num(r.logins.completed)}/${num(r.logins.started)} done`;
  },

  async load(p, { target, tokens, log }) {
    // Users whose password hashes have the server's cost (12): registered now, not measured.
    const stamp = Date.now().toString(36);
    const loginUsers = await registerUsers(target.url, p.loginUsers, { prefix: `bench_login_${stamp}_`, concurrency: p.loginUsers });
    const { clients, connected } = await connectClients(target, tokens, p.clients);
    log('connected', connected);
    await waitQuiet({ quietMs: 500, maxMs: 15000 });
    const common = { senders: clients.slice(0, p.senders), rate: p.rate, warmupMs: p.warmupMs, windowMs: p.windowMs, drainMs: p.drainMs, textLength: 64, serverPid: target.pid, target };
    const alone = await runFanoutWindow(clients, { ...common, profileName: 'logins-alone' });

    const loginLatency = [];
    const statuses = {};
    let started = 0;
    let completed = 0;
    const pending = new Set();
    const during = async (windowMs) => {
      const t0 = performance.now();
      while (performance.now() - t0 < windowMs) {
        const due = Math.floor(((performance.now() - t0) / 1000) * p.loginRate);
        while (started < due) {
          const user = loginUsers[started % loginUsers.length];
          started++;
          const s = performance.now();
          const req = login(target.url, user.username, BENCH_PASSWORD)
            .then(({ status }) => {
              statuses[status] = (statuses[status] ?? 0) + 1;
              if (status === 200) completed++;
              loginLatency.push(performance.now() - s);
            })
            .catch((err) => {
              statuses[err.code ?? 'error'] = (statuses[err.code ?? 'error'] ?? 0) + 1;
            })
            .finally(() => pending.delete(req));
          pending.add(req);
        }
        await sleep(10);
      }
      return { completedInWindow: completed };
    };
    const withLogins = await runFanoutWindow(clients, { ...common, firstMsgNo: alone.nextMsgNo, during, profileName: 'logins-during' });
    const tailStart = performance.now();
    while (pending.size && performance.now() - tailStart < p.loginTailMs) await sleep(50);
    for (const c of clients) c.close();
    const lat = new Histogram();
    for (const v of loginLatency) lat.record(v * 1000);
    return {
      alone,
      withLogins,
      logins: {
        rate: p.loginRate,
        started,
        completed,
        completedInWindow: withLogins.during?.completedInWindow ?? 0,
        unfinished: pending.size,
        statuses,
        latency: lat.toJSON(),
      },
    };
  },

  report(runs) {
    const ok = runs.filter((r) => r.result);
    const a = new Histogram();
    const w = new Histogram();
    const l = new Histogram();
    for (const r of ok) {
      a.merge(r.result.alone.latency);
      w.merge(r.result.withLogins.latency);
      l.merge(r.result.logins.latency);
    }
    const started = ok.reduce((s, r) => s + r.result.logins.started, 0);
    const completed = ok.reduce((s, r) => s + r.result.logins.completed, 0);
    const inWindow = ok.reduce((s, r) => s + r.result.logins.completedInWindow, 0);
    const windowS = ok.reduce((s, r) => s + r.result.withLogins.windowMs, 0) / 1000;
    const p = ok[0]?.params ?? {};
    const as = a.summary();
    const ws = w.summary();
    const rows = [
      ['chat latency p50 (ms)', ms(as.p50), ms(ws.p50)],
      ['chat latency p95 (ms)', ms(as.p95), ms(ws.p95)],
      ['chat latency p99 (ms)', ms(as.p99), ms(ws.p99)],
      ['chat latency max (ms)', ms(as.max), ms(ws.max)],
      ['delivered/s', num(avg(ok.map((r) => r.result.alone.deliveredPerSec))), num(avg(ok.map((r) => r.result.withLogins.deliveredPerSec)))],
      ['undelivered', num(ok.reduce((s, r) => s + r.result.alone.undelivered, 0)), num(ok.reduce((s, r) => s + r.result.withLogins.undelivered, 0))],
      ['server CPU', pct(avg(ok.map((r) => r.result.alone.serverCpuShare))), pct(avg(ok.map((r) => r.result.withLogins.serverCpuShare)))],
    ];
    const lines = [
      `Chatter only (the peers have no accounts). ${num(p.clients)} clients, 10 senders at ${p.rate} msg/s, measured alone and then while ${p.loginRate} logins/s (bcrypt cost 12, the default; ${p.loginUsers} users) arrive, on the same server and connections. The server is pinned to one core, so bcrypt's thread pool shares that core with the event loop: one cost-12 hash costs about 0.2 s of CPU, so 20 logins/s ask for about 4 cores' worth.`,
      '',
      table(['Metric', 'Chat alone', `Chat + ${p.loginRate} logins/s`], rows),
      '',
      `Logins: ${num(started)} started, ${num(completed)} succeeded (${num(inWindow / Math.max(windowS, 1e-9), 1)}/s completed within the window); login latency p50 ${ms(l.percentile(50), 0)} ms, p99 ${ms(l.percentile(99), 0)} ms; statuses ${countsText(countsMerge(ok.map((r) => r.result.logins.statuses)))}.`,
    ];
    const verdicts = [
      {
        target: `${p.loginRate} logins/s (cost 12) do not move the chat p99 (taken as: p99 with logins ≤ 1.2× p99 alone)`,
        measured: `${ms(ws.p99)} ms vs ${ms(as.p99)} ms alone (${num(ws.p99 / as.p99, 2)}×)`,
        met: ok.length ? ws.p99 <= 1.2 * as.p99 : null,
      },
    ].map((v) => atScale(v, p.clients, 1000, 'clients'));
    lines.push('', verdictTable(verdicts));
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};

function avg(values) {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}
