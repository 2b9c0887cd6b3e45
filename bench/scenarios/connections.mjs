// One node, pushed: 100,000 authenticated idle connections on one Chatter process (opt-in:
// `npm run bench -- --only connections-100k`). Measures server RSS per connection, the set-up rate,
// and the time for every client to come back with resume after the server is restarted (SIGTERM,
// then started again on the same database and port) while one sender keeps posting.
//
// Users: registering 100,000 users at bcrypt cost 4 takes minutes, so connections share users:
// PER_USER sockets per user (the server's CHATTER_MAX_SOCKETS_PER_USER is raised to match). Source
// addresses: one loopback address has ~28,000 ephemeral ports per destination, so connections are
// spread over 127.0.0.2, 127.0.0.3, ... (at most PER_ADDRESS each). File descriptors: both the
// server and the generator need one per connection; bench/lib/proc.mjs raises the limit to 150,000
// where the machine allows it, and the scenario caps its count at what both processes got (and says so).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readMemoryKiB, spawnPinned, stopChild } from '../lib/proc.mjs';
import { CHATTER_MAIN, ROOT, chatterEnv } from '../lib/targets.mjs';
import { BenchClient, connectAll, sleep, startSenders, waitQuiet } from '../load/clients.mjs';
import { connectInspector, memoryAfterGc } from '../load/inspector.mjs';
import { closeWindow, openWindow } from '../load/measure.mjs';
import { countsMerge, countsText, num, pct, table, verdictTable } from '../report/format.mjs';

export const PER_USER = 10;
export const PER_ADDRESS = 15000;
/** File descriptors a process keeps besides its sockets (database, pipes, listeners). */
export const FD_MARGIN = 500;

/** The plan: connection count, users, source addresses. */
export function connectionsPlan({ quick }) {
  const connections = quick ? 5000 : 100_000;
  return {
    connections,
    users: Math.ceil(connections / PER_USER),
    addresses: Math.max(2, Math.ceil(connections / PER_ADDRESS)),
  };
}

/** Loopback source address of connection i over `addresses` addresses: 127.0.0.2 and up, round robin. */
export function sourceAddress(i, addresses) {
  if (addresses < 1 || addresses > 253) throw new Error(`source addresses must be 1 to 253 (127.0.0.2-254), not ${addresses}`);
  return `127.0.0.${2 + (i % addresses)}`;
}

/** User (index into the tokens) of connection i: round robin, so each user has at most ceil(connections / users). */
export function userOf(i, users) {
  return i % users;
}

/** Soft "Max open files" of a process from /proc/<pid>/limits; null if unreadable. */
export function openFilesLimit(pid = 'self') {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return !m ? null : m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

/** Hard "Max open files" of a process (what its soft limit may be raised to); null if unreadable. */
export function openFilesHardLimit(pid = 'self') {
  try {
    const m = /^Max open files\s+\S+\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return !m ? null : m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Why the count is capped, in one sentence, or null when it is not: each side needs one fd a
 * connection, and a hard limit below the count (root without CAP_SYS_RESOURCE, a container's
 * limit) cannot be raised by the bench.
 */
export function capReason(wanted, connections, fdLimits) {
  if (connections >= wanted) return null;
  const limits = Object.entries(fdLimits).filter(([, v]) => typeof v === 'number').map(([who, v]) => `${num(v)} for the ${who}`);
  return `capped at ${num(connections)} of ${num(wanted)} connections: the open-file limit is ${limits.join(' and ')} and the bench cannot raise the hard limit on this machine (\`ulimit -Hn\` must be at least ${num(wanted + FD_MARGIN)} for both), so the 100,000-connection targets are not judged`;
}

/** How many connections fit in the fd limits of both sides (each needs one fd a connection). */
export function connectionsThatFit(wanted, limits) {
  const known = limits.filter((l) => typeof l === 'number');
  if (!known.length) return wanted;
  return Math.max(0, Math.min(wanted, Math.min(...known) - FD_MARGIN));
}

function serverEnv() {
  // PER_USER sockets per user. A heap large enough for 100,000 sockets' state (V8's default old
  // space would do, but a limit hit here would crash the run). The listen backlog as a production
  // server of this size would set it (the generator keeps at most 400 handshakes in flight, below
  // even Node's default of 511, so it changes nothing measured here).
  return { CHATTER_MAX_SOCKETS_PER_USER: String(PER_USER), CHATTER_LISTEN_BACKLOG: '4096', NODE_OPTIONS: '--max-old-space-size=4096' };
}

async function waitHealthy(url, deadlineMs) {
  const deadline = performance.now() + deadlineMs;
  while (performance.now() < deadline) {
    try {
      if ((await fetch(`${url}/api/health`)).ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  return false;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default {
  id: 'connections-100k',
  title: 'One node: 100,000 connections',
  targets: ['chatter'],
  defaultRun: false,

  plan({ quick }) {
    const c = connectionsPlan({ quick });
    return {
      rounds: 1,
      chatterDataDir: 'own',
      // Memory is read after a forced GC through the inspector, as in the idle scenario.
      inspect: true,
      steps: [
        {
          key: String(c.connections),
          params: {
            ...c,
            concurrency: 400,
            setupDeadlineMs: quick ? 60_000 : 240_000,
            settleMs: quick ? 1000 : 3000,
            senderRate: 10,
            preMessages: 20,
            restartMessages: 20,
            maxBackMs: quick ? 60_000 : 180_000,
          },
        },
      ],
      targetEnv: () => serverEnv(),
    };
  },

  async prepare(ctx) {
    const c = connectionsPlan({ quick: ctx.quick });
    // Said before the minute of set-up, not only in the report: here the count will be capped.
    const hard = openFilesHardLimit('self');
    if (typeof hard === 'number' && hard < c.connections + FD_MARGIN) ctx.say(`connections-100k: WARNING: the open-file hard limit is ${hard} (ulimit -Hn) and cannot be raised here, so at most ${Math.max(0, hard - FD_MARGIN)} of ${c.connections} connections will be made and the targets will not be judged`);
    const dataDir = join(ctx.workDir, 'connections');
    mkdirSync(dataDir, { recursive: true });
    const t0 = performance.now();
    // +1: the sender, a user of its own.
    const server = await ctx.startTarget('chatter', { cpu: ctx.serverCpu, dataDir, bcryptCost: 4, env: { CHATTER_SQLITE_SYNC: 'normal' } });
    let users;
    try {
      ctx.say(`connections-100k: registering ${c.users + 1} users`);
      users = await ctx.registerUsers(server.url, c.users + 1, { prefix: 'conn_u' });
    } finally {
      await server.stop();
    }
    const tokensFile = join(ctx.workDir, 'connections-tokens.json');
    writeFileSync(tokensFile, JSON.stringify(users));
    const registerMs = performance.now() - t0;
    ctx.say(`connections-100k: registered ${users.length} users in ${(registerMs / 1000).toFixed(1)} s`);
    return { dataDir, tokensFile, extra: { dataDir, serverCpu: ctx.serverCpu ?? null }, info: { users: users.length, registerMs } };
  },

  summaryLine(r) {
    return `${num(r.connected)}/${num(r.attempted)} connected${r.capped ? ` (${r.capped})` : ''} at ${num(r.setupPerSec)}/s, ${num(r.perConnectionKiB, 2)} KiB RSS per connection after GC; after restart ${num(r.back)} back in ${num(r.backMs)} ms, gaps ${num(r.gaps)}, duplicates ${num(r.duplicates)}`;
  },

  async load(p, { target, tokens, log, extra }) {
    const fdLimits = { generator: openFilesLimit('self'), server: openFilesLimit(target.pid) };
    const connections = connectionsThatFit(p.connections, [fdLimits.generator, fdLimits.server]);
    const capped = capReason(p.connections, connections, fdLimits);
    if (capped) console.error(`connections-100k: ${capped}`);
    const users = tokens.length - 1;
    const senderToken = tokens[users].token;
    log('plan', { connections, wanted: p.connections, fdLimits });

    const inspector = target.inspectorUrl ? await connectInspector(target.inspectorUrl) : null;
    await sleep(500);
    const memory = () => (inspector ? memoryAfterGc(target.pid, inspector, { samples: 3 }) : null);
    const before = await memory();
    const clients = [];
    for (let i = 0; i < connections; i++) {
      const c = new BenchClient(target, { index: i, token: tokens[userOf(i, users)].token, localAddress: sourceAddress(i, p.addresses) });
      c.passive = true; // frames after hello are counted, not parsed: set-up measures the server
      clients.push(c);
    }
    const win = openWindow(target.pid);
    const connected = await connectAll(clients, { concurrency: p.concurrency, deadlineMs: p.setupDeadlineMs });
    const setup = closeWindow(win);
    log('connected', connected);
    await waitQuiet({ quietMs: 1000, maxMs: 30000 });
    await sleep(p.settleMs);
    const after = await memory();
    inspector?.close();
    const seated = clients.filter((c) => c.ready);
    for (const c of clients) if (!c.ready) c.close();

    // Messages before the restart, so every client has a resume point past zero.
    const maxMsgs = p.preMessages + p.restartMessages + 100;
    const counts = new Uint8Array(connections * maxMsgs);
    for (const c of seated) {
      c.passive = false;
      c.onDelivery = (n, _sent, client) => {
        if (n < maxMsgs) {
          const k = client.index * maxMsgs + n;
          if (counts[k] < 255) counts[k]++;
        }
      };
    }
    const sender = new BenchClient(target, { index: connections, token: senderToken, localAddress: '127.0.0.1' });
    await sender.connect();
    const pre = startSenders([sender], { rate: p.senderRate });
    await sleep((p.preMessages / p.senderRate) * 1000);
    const firstPost = pre.stop();
    await waitQuiet({ quietMs: 1000, maxMs: 20000 });

    // Restart: SIGTERM, wait for the exit, start again on the same database and port.
    const t0 = performance.now();
    process.kill(target.pid, 'SIGTERM');
    while (pidAlive(target.pid) && performance.now() - t0 < 30_000) await sleep(20);
    if (pidAlive(target.pid)) process.kill(target.pid, 'SIGKILL');
    const stoppedMs = performance.now() - t0;
    const child = spawnPinned(process.execPath, [CHATTER_MAIN], {
      cpu: extra.serverCpu ?? undefined,
      cwd: ROOT,
      env: chatterEnv({ port: target.port, dataDir: extra.dataDir, bcryptCost: 4, extra: serverEnv() }),
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-5000)));
    child.stdout.on('data', () => {});
    try {
      if (!(await waitHealthy(target.url, 30_000))) throw new Error(`restarted Chatter did not become healthy: ${stderr}`);
      const healthyMs = performance.now() - t0;
      for (const c of seated) c.drop(); // already closed by the server; make sure
      // Messages the clients miss while they are away, posted before any of them is back: each
      // must arrive exactly once through its resume. No sustained traffic during the storm: a
      // replay that grows with the storm's length would measure the backlog, not the return (the
      // reconnect scenario measures resume under traffic).
      sender.close();
      await sender.connect();
      const acksBefore = sender.acks;
      for (let k = 0; k < p.restartMessages; k++) sender.sendChat(firstPost + k);
      const ackDeadline = performance.now() + 10_000;
      while (sender.acks - acksBefore < p.restartMessages && performance.now() < ackDeadline) await sleep(10);
      const resumeOf = (c) => ({ general: c.lastSeq });
      let retries = 0;
      const back = await connectAll(seated, { concurrency: p.concurrency, deadlineMs: p.maxBackMs, resumeOf });
      while (!seated.every((c) => c.ready && !c.connecting) && performance.now() - t0 < p.maxBackMs) {
        const down = seated.filter((c) => !c.ready && !c.connecting);
        retries += down.length;
        if (down.length) await connectAll(down, { concurrency: p.concurrency, deadlineMs: p.maxBackMs - (performance.now() - t0), resumeOf });
        else await sleep(20);
      }
      const backMs = performance.now() - t0;
      const allBack = seated.every((c) => c.ready);
      await waitQuiet({ quietMs: 1000, maxMs: 20000 });
      const afterRestart = readMemoryKiB(child.pid);

      // Every acknowledged message exactly once, for every client.
      const expected = [...new Set(sender.ackedMsgNos)].sort((a, b) => a - b);
      let gaps = 0;
      let duplicates = 0;
      let clientsWithGaps = 0;
      for (const c of seated) {
        let g = 0;
        for (const n of expected) {
          if (n >= maxMsgs) continue;
          const k = counts[c.index * maxMsgs + n];
          if (k === 0) g++;
          else if (k > 1) duplicates += k - 1;
        }
        gaps += g;
        if (g) clientsWithGaps++;
      }
      const closeCodes = {};
      for (const c of seated) for (const code of c.closes) closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      const result = {
        connections: p.connections,
        attempted: connections,
        fdLimits,
        addresses: p.addresses,
        users,
        perUser: PER_USER,
        connected: connected.ok,
        failed: connected.failed,
        connectErrors: connected.errors,
        seated: seated.length,
        setupMs: connected.ms,
        setupPerSec: connected.ok / (connected.ms / 1000),
        setupServerCpuShare: setup.serverCpuShare,
        generatorCpuShare: setup.selfCpuShare,
        capped,
        rssBeforeKiB: before?.rss.median ?? null,
        rssAfterKiB: after?.rss.median ?? null,
        perConnectionKiB: before && after ? (after.rss.median - before.rss.median) / Math.max(1, connected.ok) : null,
        heapPerConnectionKiB: before && after ? (after.heapUsed.median - before.heapUsed.median) / Math.max(1, connected.ok) : null,
        stoppedMs,
        healthyMs,
        back: seated.filter((c) => c.ready).length,
        allBack,
        backMs,
        backAfterHealthyMs: backMs - healthyMs,
        retries,
        reconnectErrors: back.errors,
        messages: expected.length,
        gaps,
        duplicates,
        clientsWithGaps,
        resumeGapFrames: seated.reduce((a, c) => a + c.resumeGaps, 0),
        rssAfterRestartKiB: afterRestart?.rss ?? null,
        closeCodes,
        errors: countsMerge(seated.map((c) => c.errors)),
      };
      for (const c of seated) c.close();
      sender.close();
      return result;
    } finally {
      await stopChild(child, 30_000);
    }
  },

  report(runs, { prepared }) {
    const r = runs.find((x) => x.target === 'chatter' && x.result)?.result;
    const err = runs.find((x) => x.error)?.error;
    if (!r) return { markdown: `No result${err ? `: ${err}` : ''}.`, charts: [], verdicts: [] };
    const capped = r.attempted < r.connections;
    const lines = [
      `${capped ? `**Not the 100,000 connections this scenario is for: ${r.capped ?? capReason(r.connections, r.attempted, r.fdLimits)}.** ` : ''}${num(r.attempted)} authenticated idle Chatter connections to one server process${capped ? ` (capped from ${num(r.connections)})` : ''}, spread over ${r.addresses} loopback source addresses (127.0.0.2 and up), ${r.perUser} connections per user over ${num(r.users)} users (CHATTER_MAX_SOCKETS_PER_USER=${r.perUser}${prepared ? `; users registered over REST in ${num(prepared.registerMs / 1000, 1)} s, not measured` : ''}), at most 400 handshakes in flight (below even Node's default listen backlog of 511; the server runs with \`CHATTER_LISTEN_BACKLOG=4096\` and \`--max-old-space-size=4096\`, as a production server of this size would). Then one sender posts about 20 messages (2 s at 10 msg/s); the server gets SIGTERM and is started again on the same database and port; the sender posts 20 more (which every client missed); then every client reconnects with \`resume=general:<last seq held>\` (at most 400 in flight, retrying any refused) and must hold every one of the ${num(r.messages)} acknowledged messages exactly once. No traffic flows during the return itself (the reconnect scenario measures resume under traffic).`,
      '',
      table(
        ['Metric', 'Chatter'],
        [
          ['connected', `${num(r.connected)} of ${num(r.attempted)}`],
          ['set-up rate (connections/s)', num(r.setupPerSec)],
          ['server CPU during set-up', pct(r.setupServerCpuShare)],
          ['generator CPU during set-up', pct(r.generatorCpuShare)],
          ['RSS per connection, after a forced GC (KiB; as in the idle scenario)', num(r.perConnectionKiB, 2)],
          ['V8 heap in use per connection, after a forced GC (KiB)', r.heapPerConnectionKiB === undefined ? '–' : num(r.heapPerConnectionKiB, 2)],
          ['RSS with all connected (MB)', num(r.rssAfterKiB / 1024)],
          ['SIGTERM to exit (ms)', num(r.stoppedMs)],
          ['SIGTERM to healthy again (ms)', num(r.healthyMs)],
          ['SIGTERM to every client back and resumed (ms)', r.allBack ? num(r.backMs) : `not all back (${num(r.back)} of ${num(r.seated)}) after ${num(r.backMs)}`],
          ['healthy to every client back (ms)', num(r.backAfterHealthyMs)],
          ['reconnect attempts beyond the first', num(r.retries)],
          ['gaps (acked messages missed, all clients)', num(r.gaps)],
          ['duplicate deliveries', num(r.duplicates)],
          ['RSS after the restart, all back (MB)', num(r.rssAfterRestartKiB / 1024)],
        ],
      ),
    ];
    if (r.generatorCpuShare > 0.9) lines.push('', `- The generator used ${pct(r.generatorCpuShare)} of its core during set-up: the set-up rate is a lower bound of what the server sustains.`);
    if (countsText(r.connectErrors) !== 'none') lines.push('', `- connection failures: ${countsText(r.connectErrors)}`);
    if (countsText(r.reconnectErrors) !== 'none') lines.push('', `- reconnect failures (then retried): ${countsText(r.reconnectErrors)}`);
    if (countsText(r.closeCodes) !== 'none') lines.push('', `- closes seen by clients: ${countsText(r.closeCodes)}`);
    const kb = (r.perConnectionKiB * 1024) / 1000;
    const full = r.attempted === 100_000;
    const reason = full ? undefined : capped ? `capped at ${num(r.attempted)} connections by the open-file hard limit` : `${num(r.attempted)} connections, not 100,000`;
    const verdicts = [
      {
        target: '≤ 6 KB server RSS per idle authenticated connection at 100,000 (after a forced GC)',
        measured: `${num(kb, 2)} KB at ${num(r.connected)}`,
        met: full && r.connected === r.attempted ? kb <= 6 : null,
        reason,
      },
      {
        target: 'every client back after a restart, zero gaps, zero duplicates',
        measured: `${num(r.back)} of ${num(r.seated)} back in ${num(r.backMs / 1000, 1)} s; gaps ${num(r.gaps)}, duplicates ${num(r.duplicates)}`,
        met: full ? r.allBack && r.gaps === 0 && r.duplicates === 0 : null,
        reason,
      },
    ];
    if (!full) lines.push('', `Verdicts are not judged below 100,000 connections${capped ? ' (see the cap above)' : ''}.`);
    lines.push('', verdictTable(verdicts, 'issue 10'));
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};
