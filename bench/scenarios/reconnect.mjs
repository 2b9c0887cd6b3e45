// Reconnect storm: N clients drop at once (no close handshake) while 10 other clients keep sending,
// then reconnect immediately (Chatter with resume=general:<last seq held>). Measures the time until
// all are back (for Chatter: until each resume replay has arrived) and, per client, gaps and
// duplicates across the whole run. The peers have no resume: their gaps are what a client of
// theirs would silently miss.
import { performance } from 'node:perf_hooks';
import { readMemoryKiB } from '../lib/proc.mjs';
import { connectAll, sleep, startSenders, waitQuiet } from '../load/clients.mjs';
import { closeWindow, openWindow } from '../load/measure.mjs';
import { maybeProfile } from '../load/profiler.mjs';
import { connectClients } from './fanout.mjs';
import { countsMerge, countsText, label, num, table, verdictTable } from '../report/format.mjs';

const TARGETS = ['chatter', 'socketio', 'ws-floor'];

export default {
  id: 'reconnect',
  title: 'Reconnect storm',
  targets: TARGETS,

  plan({ quick }) {
    const clients = quick ? 300 : 5000;
    return {
      rounds: 1,
      chatterUsers: clients + 10,
      steps: [{ key: String(clients), params: { clients, senders: 10, rate: 10, preMs: quick ? 1000 : 2000, postMs: quick ? 1000 : 2000, drainMs: 10000, maxBackMs: quick ? 30000 : 45000, setupDeadlineMs: quick ? 30000 : 60000 } }],
    };
  },

  summaryLine(r) {
    return `${num(r.reconnected)}/${num(r.clients)} back in ${num(r.backMs)} ms, gaps ${num(r.gaps)}, duplicates ${num(r.duplicates)}`;
  },

  async load(p, { target, tokens, log }) {
    // Senders first (they must be there); then as many storm clients as connect within the
    // set-up deadline. A server too slow to seat them all is measured with the ones it seated.
    const { clients: senders, connected: sendersConnected } = await connectClients(target, tokens, p.senders, { offset: p.clients });
    if (sendersConnected.ok !== p.senders) throw new Error(`senders could not connect: ${countsText(sendersConnected.errors)}`);
    const { clients: seated, connected } = await connectClients(target, tokens, p.clients, { deadlineMs: p.setupDeadlineMs });
    const storm = seated.filter((c) => c.ready);
    for (const c of seated) if (!c.ready) c.close();
    const all = [...storm, ...senders];
    log('seated', connected);
    await waitQuiet({ quietMs: 500, maxMs: 30000 });

    const maxMsgs = Math.ceil((p.rate * (p.preMs + p.postMs + p.maxBackMs)) / 1000) + 100;
    const counts = new Uint8Array(p.clients * maxMsgs); // indexed by client.index, which is < p.clients
    for (const c of storm) {
      c.onDelivery = (n, _sent, client) => {
        if (n < maxMsgs) {
          const i = client.index * maxMsgs + n;
          if (counts[i] < 255) counts[i]++;
        }
      };
    }
    const sent = [];
    const run = startSenders(senders, { rate: p.rate, onSend: (n) => sent.push(n) });
    await sleep(p.preMs);

    const profiler = await maybeProfile(target, 'reconnect-storm');
    const win = openWindow(target.pid);
    const t0 = performance.now();
    for (const c of storm) c.drop();
    const resumeOf = target.kind === 'chatter' ? (c) => ({ general: c.lastSeq }) : undefined;
    // Like a real client, one that fails or is closed again while coming back retries (with resume).
    const back = await connectAll(storm, { concurrency: 400, deadlineMs: p.maxBackMs, resumeOf });
    let retries = 0;
    while (!storm.every((c) => c.ready) && performance.now() - t0 < p.maxBackMs) {
      const down = storm.filter((c) => !c.ready && !c.connecting);
      retries += down.length;
      if (down.length) await connectAll(down, { concurrency: 400, deadlineMs: p.maxBackMs - (performance.now() - t0), resumeOf });
      else await sleep(20);
    }
    const backMs = performance.now() - t0;
    const allBack = storm.every((c) => c.ready);
    const storming = closeWindow(win);
    await profiler?.stop();
    log('back', back, { retries, allBack });

    // Keep reconnecting anyone the server closes while messages flow, until the drain ends.
    let supervising = true;
    const supervisor = (async () => {
      while (supervising) {
        const down = storm.filter((c) => !c.ready && !c.connecting);
        if (down.length) {
          retries += down.length;
          await connectAll(down, { concurrency: 400, deadlineMs: 30000, resumeOf });
        } else await sleep(50);
      }
    })();
    await sleep(p.postMs);
    const lastMsg = run.stop();
    await waitQuiet({ quietMs: 1000, maxMs: p.drainMs });
    supervising = false;
    await supervisor;
    const mem = readMemoryKiB(target.pid);

    // What every storm client must hold: for Chatter every acknowledged message (an unacked one
    // may legitimately not exist); for the peers, every message sent.
    const expected = target.kind === 'chatter' ? [...new Set(senders.flatMap((s) => s.ackedMsgNos))].sort((a, b) => a - b) : sent;
    let gaps = 0;
    let duplicates = 0;
    let clientsWithGaps = 0;
    let clientsWithDuplicates = 0;
    for (const c of storm) {
      let g = 0;
      let d = 0;
      for (const n of expected) {
        if (n >= maxMsgs) continue;
        const k = counts[c.index * maxMsgs + n];
        if (k === 0) g++;
        else if (k > 1) d += k - 1;
      }
      gaps += g;
      duplicates += d;
      if (g) clientsWithGaps++;
      if (d) clientsWithDuplicates++;
    }
    const closeCodes = {};
    for (const c of all) for (const code of c.closes) closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    const result = {
      clients: storm.length,
      requested: p.clients,
      setupMs: connected.ms,
      rate: p.rate,
      sent: sent.length,
      acked: target.kind === 'chatter' ? expected.length : null,
      lastMsgNo: lastMsg,
      reconnected: storm.filter((c) => c.ready).length,
      allBack,
      retries,
      reconnectFailed: back.failed + back.notAttempted,
      reconnectErrors: back.errors,
      backMs,
      expectedPerClient: expected.length,
      gaps,
      duplicates,
      clientsWithGaps,
      clientsWithDuplicates,
      resumeGapFrames: storm.reduce((a, c) => a + c.resumeGaps, 0),
      stormServerCpuMicros: storming.serverCpuMicros,
      stormServerCpuShare: storming.serverCpuShare,
      generatorCpuShare: storming.selfCpuShare,
      rssKiB: mem?.rss ?? null,
      hwmKiB: mem?.hwm ?? null,
      closeCodes,
      errors: countsMerge(all.map((c) => c.errors)),
    };
    for (const c of all) c.close();
    return result;
  },

  report(runs, { targets }) {
    const rows = [];
    const byTarget = {};
    for (const t of targets) {
      const rs = runs.filter((r) => r.target === t && r.result).map((r) => r.result);
      if (!rs.length) continue;
      byTarget[t] = rs;
    }
    const n = Object.values(byTarget)[0]?.[0]?.requested ?? Object.values(byTarget)[0]?.[0]?.clients ?? 0;
    const metric = (name, get) => rows.push([name, ...targets.map((t) => (byTarget[t] ? byTarget[t].map(get).join(' / ') : '–'))]);
    metric('clients seated before the storm', (r) => `${num(r.clients)} of ${num(r.requested ?? r.clients)}${r.clients < (r.requested ?? r.clients) ? ` (set-up deadline hit after ${num(r.setupMs / 1000, 0)} s)` : ''}`);
    metric('reconnected', (r) => `${num(r.reconnected)} of ${num(r.clients)}`);
    metric('time until all back (ms)', (r) => (r.allBack ? num(r.backMs) : `not all back after ${num(r.backMs)}`));
    metric('reconnect attempts beyond the first', (r) => num(r.retries));
    metric('messages sent (acked)', (r) => `${num(r.sent)}${r.acked !== null ? ` (${num(r.acked)})` : ''}`);
    metric('gaps (missed deliveries, all clients)', (r) => num(r.gaps));
    metric('clients with a gap', (r) => num(r.clientsWithGaps));
    metric('duplicate deliveries', (r) => num(r.duplicates));
    metric('resume_gap frames', (r) => num(r.resumeGapFrames));
    metric('server CPU during the storm', (r) => (r.stormServerCpuShare === null ? '–' : `${num(r.stormServerCpuShare * 100)}%`));
    // A storm whose server was far from its core and whose generator too was idle was starved by
    // something else on the machine; one whose generator was busy may have been held back by it.
    metric('generator CPU during the storm', (r) => (typeof r.generatorCpuShare === 'number' ? `${num(r.generatorCpuShare * 100)}%` : '–'));
    metric('peak server RSS (MB)', (r) => num(r.hwmKiB / 1024));
    const lines = [
      `${num(n)} clients in \`general\` drop at once (TCP reset, no close handshake) while 10 other clients send ${runs[0]?.params.rate ?? '?'} msg/s; they reconnect at once (at most 400 handshakes in flight), Chatter clients with \`resume=general:<last seq held>\`. "Back" means connected and, for Chatter, the resume replay received. Gaps and duplicates are counted per client over every message sent during the run (for Chatter: every acknowledged message). The peers have no resume, so their gaps are the messages their clients silently miss. Every client that comes back later has more to replay (everything sent since the drop); the replays share one read and one serialization of the room's log (\`realtime/event-frames.ts\`), so each costs the server a string join, not a read, but the storm still lasts longer the more anything slows the server, other processes on the machine included.`,
      '',
      table(['Metric', ...targets.map(label)], rows),
    ];
    for (const t of targets) {
      if (!byTarget[t]) continue;
      const closes = byTarget[t].map((r) => countsText(r.closeCodes)).filter((x) => x !== 'none');
      const errs = byTarget[t].map((r) => countsText(r.errors)).filter((x) => x !== 'none');
      const rerr = byTarget[t].map((r) => countsText(r.reconnectErrors)).filter((x) => x !== 'none');
      if (closes.length) lines.push('', `- ${label(t)}: closes seen by clients: ${closes.join('; ')}`);
      if (errs.length) lines.push('', `- ${label(t)}: error frames: ${errs.join('; ')}`);
      if (rerr.length) lines.push('', `- ${label(t)}: reconnect failures: ${rerr.join('; ')}`);
    }
    const verdicts = [];
    const c = byTarget.chatter;
    if (c) {
      const all = c.every((r) => r.allBack && r.clients === (r.requested ?? r.clients));
      const gaps = c.reduce((a, r) => a + r.gaps, 0);
      const dups = c.reduce((a, r) => a + r.duplicates, 0);
      verdicts.push({
        target: `Reconnect storm of ${num(n)}: all back, zero gaps, zero duplicates`,
        measured: `${c.map((r) => `${num(r.reconnected)} back in ${num(r.backMs / 1000, 1)} s`).join('; ')}; gaps ${num(gaps)}, duplicates ${num(dups)}`,
        met: all && gaps === 0 && dups === 0,
      });
      lines.push('', verdictTable(verdicts));
    }
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};
