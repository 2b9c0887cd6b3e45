// Capacity of one server core: the throughput comparison. For each target, one server (pinned to
// one core) and 1,000 connected clients; the offered rate rises step by step on the same server and
// connections (a short warm-up, a measured window and a drain at each step) until the target
// breaks: its p99 passes 250 ms, or it falls behind (delivered/s below 90% of offered x clients, or
// deliveries still queued at the end of the step's drain). The highest step it sustained is its
// capacity; the step where it broke is reported with the reason. "Delivered at 1,000 msg/s
// offered" says little once a target is past its knee; where the knee is says it all.
import { Histogram } from '../lib/stats.mjs';
import { sleep, waitQuiet } from '../load/clients.mjs';
import { atScale, label, ms, num, pct, table } from '../report/format.mjs';
import { GENERATOR_BOUND_SHARE, connectClients, runFanoutWindow } from './fanout.mjs';

/** A step breaks a target when its p99 passes this (microseconds). */
export const P99_LIMIT_MICROS = 250_000;
/** ...or when it delivers less than this share of what was offered (offered msg/s x clients). */
export const DELIVERED_SHARE = 0.9;

/**
 * Why a step broke the target, or null when it sustained it: p99 over the limit, delivered/s
 * clearly below the offered deliveries, or deliveries still queued after the drain.
 */
export function brokeBecause(r) {
  const reasons = [];
  const p99 = Histogram.fromJSON(r.latency).percentile(99);
  if (!(p99 <= P99_LIMIT_MICROS)) reasons.push(`p99 ${ms(p99)} ms > ${ms(P99_LIMIT_MICROS, 0)} ms`);
  const offered = r.offered * r.ready;
  if (r.deliveredPerSec < DELIVERED_SHARE * offered) reasons.push(`delivered ${num(r.deliveredPerSec)}/s < ${pct(DELIVERED_SHARE)} of ${num(offered)}/s offered`);
  if (r.undelivered > 0) reasons.push(`${num(r.undelivered)} late at the end of the drain`);
  return reasons.length ? reasons.join('; ') : null;
}

/** A server at or above this share of its core is using all of it. */
export const SATURATED_SHARE = 0.95;

/**
 * Whether a break is worth a second attempt: only one that a stall from elsewhere could explain.
 * A stall (another process, a GC, a checkpoint) takes the core away for a moment: the server idles
 * through part of the window, then catches up. A target that fell behind (delivered below 90% of
 * offered) while using its whole core, or that was still behind after the drain, is past its knee,
 * and a retry (another warm-up, window and drain of a saturated server) would only cost the suite
 * its seconds. A break on p99 alone, by a server with room left, is retried.
 */
export function worthRetrying(r) {
  const offered = r.offered * r.ready;
  const behind = r.deliveredPerSec < DELIVERED_SHARE * offered;
  const saturated = typeof r.serverCpuShare === 'number' && r.serverCpuShare >= SATURATED_SHARE;
  return !(behind && (saturated || r.undelivered > 0));
}

/** The steps that count: a first attempt that broke and was retried is shown, but the retry decides. */
const counted = (steps) => steps.filter((s) => !s.retried);

const isBound = (r) => typeof r.generatorCpuShare === 'number' && r.generatorCpuShare > GENERATOR_BOUND_SHARE;

export default {
  id: 'capacity',
  title: 'Capacity of one server core: offered rate raised until each target breaks',
  // Chatter with pacing off is left out to keep the suite under 15 minutes (it would add about a
  // minute); `--targets chatter-nopace --only capacity` runs it.
  targets: ['chatter', 'ws-coalesce', 'ws-floor', 'socketio', 'chatter-nopace'],
  defaultTargets: ['chatter', 'ws-coalesce', 'ws-floor', 'socketio'],

  plan({ quick }) {
    const clients = quick ? 200 : 1000;
    // Steps from 50 msg/s (50,000 deliveries/s at 1,000 clients; the fan-out scenario measures 50
    // in three rounds, and a 25 msg/s step cost the suite ~15 s and broke nothing), doubling up to 400 and by half
    // as much again above it: the per-message peers break near 100 msg/s on this machine, so
    // doubling finds their knee in few steps; Chatter and the coalescing floor go on to
    // 1,600-3,200 msg/s (where the generator nears its core: ~0.35 µs per delivery read), and
    // the finer steps there are what tells them apart. One round: the steps share a server, and
    // two more rounds would cost the suite about four minutes; every step's figures are in the
    // report.
    const rates = quick ? [50, 100, 400, 1600] : [50, 100, 200, 400, 600, 800, 1200, 1600, 2400, 3200];
    return {
      rounds: 1,
      chatterUsers: clients,
      steps: [{ key: 'ladder', params: { clients, senders: 10, rates, warmupMs: quick ? 500 : 1000, windowMs: quick ? 1000 : 2000, drainMs: quick ? 1500 : 2000, textLength: 64 } }],
    };
  },

  summaryLine(r) {
    const last = r.steps[r.steps.length - 1];
    const top = counted(r.steps).filter((s) => !s.broke).pop();
    return `sustained ${top ? `${num(top.deliveredPerSec)} deliveries/s at ${num(top.offered)} msg/s` : 'no step'}; ${last?.broke ? `broke at ${num(last.offered)} msg/s (${last.broke})` : 'did not break'}`;
  },

  async load(p, { target, tokens, log }) {
    const { clients, connected } = await connectClients(target, tokens, p.clients);
    log('connected', connected);
    await waitQuiet({ quietMs: 500, maxMs: 15000 });
    const steps = [];
    let firstMsgNo = 0;
    let attempt = 0;
    for (let i = 0; i < p.rates.length; i++) {
      const rate = p.rates[i];
      const r = await runFanoutWindow(clients, {
        senders: clients.slice(0, p.senders),
        rate,
        warmupMs: p.warmupMs,
        windowMs: p.windowMs,
        drainMs: p.drainMs,
        textLength: p.textLength,
        serverPid: target.pid,
        firstMsgNo,
        target,
        profileName: `capacity-${rate}`,
      });
      firstMsgNo = r.nextMsgNo;
      const broke = brokeBecause(r);
      const step = { ...r, broke, generatorBound: isBound(r), attempt: attempt + 1 };
      log(`${rate} msg/s: ${num(r.deliveredPerSec)}/s${broke ? `, broke: ${broke}` : ''}`);
      // Once more before calling it, where one stall from elsewhere on a shared machine (or a GC,
      // a checkpoint) could have pushed a 2-second window's p99 past the limit.
      const retry = broke && attempt === 0 && worthRetrying(r);
      if (broke && !retry) {
        steps.push(step);
        break;
      }
      // The next step starts from quiet sockets: what this one left in flight is not its load.
      if (retry || i + 1 < p.rates.length) await waitQuiet({ quietMs: 300, maxMs: 3000 });
      if (retry) {
        steps.push({ ...step, retried: true });
        attempt = 1;
        i--;
        continue;
      }
      attempt = 0;
      steps.push(step);
    }
    for (const c of clients) c.close();
    return { clients: p.clients, connect: connected, steps };
  },

  report(runs, { targets }) {
    const clients = runs[0]?.params.clients ?? 0;
    const ok = runs.filter((r) => r.result);
    const lines = [];
    lines.push(`Each target gets one server process, pinned to one core, and ${num(clients)} connected clients in one room, 10 of them sending; the offered rate then rises step by step on that server and those connections (${[...new Set(runs.flatMap((r) => r.params.rates))].map((x) => num(x)).join(', ')} msg/s; each step a ${num(runs[0]?.params.warmupMs / 1000, 1)} s warm-up, a ${num(runs[0]?.params.windowMs / 1000, 1)} s measured window and up to ${num(runs[0]?.params.drainMs / 1000, 1)} s of drain) until the target **breaks**: its p99 passes ${ms(P99_LIMIT_MICROS, 0)} ms, it delivers less than ${pct(DELIVERED_SHARE)} of offered × clients, or deliveries are still queued at the end of the drain. A step that breaks on its latency alone is run once more before the target is called broken (one stall from elsewhere on a shared machine, a GC or a checkpoint can push a 2-second window past the limit), and both attempts are shown; a target that fell behind while its server used its whole core (${pct(SATURATED_SHARE)} or more), or that still had deliveries queued after the drain, is past its knee and is not retried. Its **capacity** is the delivered/s of the highest step it sustained; the server has one core, so that is deliveries per second per server core. A step where the generator was above ${pct(GENERATOR_BOUND_SHARE)} of its core is marked generator-bound: there the generator may have been what broke (or slowed) it, so a capacity reached at a generator-bound step is a lower bound for the server. One round per target (the figures are single measurements, not medians; the machine is shared, so treat differences under ~20% as noise).`);
    lines.push('');
    const rows = [];
    const summary = [];
    for (const t of targets) {
      const run = ok.find((r) => r.target === t);
      if (!run) continue;
      const steps = run.result.steps;
      for (const s of steps) {
        const lat = Histogram.fromJSON(s.latency);
        const f = (text) => (s.generatorBound ? `${text} (generator-bound)` : text);
        const verdictText = s.retried ? `broke (${s.broke}); retried` : s.broke ? `**broke**: ${s.broke}` : s.attempt > 1 ? 'sustained on the retry' : 'sustained';
        rows.push([label(t), num(s.offered), f(num(s.deliveredPerSec)), ms(lat.percentile(50)), f(ms(lat.percentile(99))), num(s.undelivered), num(s.cpuPerDeliveryMicros, 2), pct(s.serverCpuShare), f(pct(s.generatorCpuShare)), verdictText]);
      }
      const top = counted(steps).filter((s) => !s.broke).pop();
      const broke = counted(steps).find((s) => s.broke);
      summary.push({ t, top, broke });
    }
    lines.push(table(['Target', 'Offered msg/s', 'Delivered/s', 'p50 (ms)', 'p99 (ms)', 'Late', 'Server CPU µs / delivery', 'Server CPU', 'Generator CPU', 'Step'], rows));
    lines.push('');
    lines.push('**Capacity per server core** (the highest step sustained). Where the server did not use its whole core at that step, the last figures but one say what a full core of its CPU delivered there (delivered/s ÷ server CPU share, the inverse of CPU per delivery): an extrapolation, not a measurement, since the cost per delivery changes with the rate.');
    lines.push('');
    lines.push(table(['Target', 'Sustained deliveries/s (one core)', 'At offered msg/s', 'Server CPU there', 'Deliveries per second of server CPU there', 'p99 there (ms)', 'Broke at', 'Why'], summary.map(({ t, top, broke }) => [
      label(t),
      top ? `${num(top.deliveredPerSec)}${top.generatorBound ? ' (generator-bound: a lower bound)' : ''}` : '– (broke at the first step)',
      top ? num(top.offered) : '–',
      top ? pct(top.serverCpuShare) : '–',
      top && top.cpuPerDeliveryMicros ? num(1e6 / top.cpuPerDeliveryMicros) : '–',
      top ? ms(Histogram.fromJSON(top.latency).percentile(99)) : '–',
      broke ? `${num(broke.offered)} msg/s${broke.generatorBound ? ' (generator-bound)' : ''}` : 'did not break',
      broke ? broke.broke : `sustained every step up to ${num(top?.offered)} msg/s`,
    ])));
    const c = summary.find((s) => s.t === 'chatter');
    const co = summary.find((s) => s.t === 'ws-coalesce');
    const verdicts = [];
    if (c && co) {
      const cap = (s) => s.top?.deliveredPerSec ?? 0;
      const x = cap(co) > 0 ? cap(c) / cap(co) : NaN;
      const bound = c.top?.generatorBound || co.top?.generatorBound || c.broke?.generatorBound || co.broke?.generatorBound;
      lines.push('');
      lines.push(`Chatter sustained ${num(cap(c))} deliveries/s on one core, ${num(x, 2)}× the coalescing floor's ${num(cap(co))}${bound ? ' (a generator-bound step is involved: the ratio is indicative, not judged)' : ''}. The floor stores, checks and authenticates nothing; Chatter writes every message to SQLite and acks it before the fan-out, so where it breaks first, that is the cost of what the floor leaves out.`);
      const capText = (s) => (s.top ? `${num(cap(s))}/s` : 'no step sustained');
      verdicts.push(atScale({ target: 'Capacity per server core (context: no target is set; the throughput comparison)', measured: `Chatter ${capText(c)} vs coalescing floor ${capText(co)}${Number.isFinite(x) ? ` (${num(x, 2)}×)` : ''}${bound ? ', generator-bound' : ''}`, met: null, reason: 'context' }, clients, 1000, 'clients'));
    }
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};
