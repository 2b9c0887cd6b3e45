// Many rooms (issue 11, section 7): 10,000 connections, one user each, in 1,000 rooms; each user is
// in 3 of them, so each room has 30 members (the 10 whose first room it is, and 20 for whom it is
// the second or the third; the issue's "rooms of 10" and "each user in 3 rooms" cannot both hold
// with 10,000 users in 1,000 rooms). 1,000 messages per second, spread round-robin over the rooms,
// each sent by one of its room's members. Every target routes by room: Chatter by membership (rooms
// created through its API in the set-up), the coalescing floor and the ws floor by room sets,
// Socket.IO by its rooms. Measured over a window: delivered/s, latency, server CPU per delivery; then
// every connection drops at once and comes back (Chatter with `resume` of each of its rooms) while
// the messages keep flowing, timed until the last is back with its replays. A Chatter-only step makes
// 1 event in 1,000 an edit or a reaction instead of a message.
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { apiPost, inParallel } from '../lib/chatter-setup.mjs';
import { readCpuSplitMicros } from '../lib/proc.mjs';
import { Histogram, spread } from '../lib/stats.mjs';
import { BenchClient, RUN_TAG, connectAll, sleep, waitQuiet } from '../load/clients.mjs';
import { closeWindow, openWindow } from '../load/measure.mjs';
import { maybeProfile } from '../load/profiler.mjs';
import { OPEN } from '../load/rawws.mjs';
import { atScale, countsMerge, countsText, label, ms, num, pct, ratio, table, verdictTable } from '../report/format.mjs';
import { GENERATOR_BOUND_SHARE } from './fanout.mjs';

const TARGETS = ['chatter', 'ws-coalesce', 'ws-floor', 'socketio', 'chatter-syncnormal'];
/**
 * The targets are stated against the coalescing floor; the other peers are context, on request, and
 * so is Chatter with `synchronous=NORMAL` (`--targets chatter,chatter-syncnormal`: the fsync's share).
 */
const DEFAULT_TARGETS = ['chatter', 'ws-coalesce'];
/** Connections whose first ("home") room a room is; a message in a room is sent by one of them. */
const HOME = 10;
const ROOMS_PER_USER = 3;
/** Full-scale figures the targets are set at. */
const FULL_CONNECTIONS = 10_000;
/** Connect-with-resume of every connection within this. */
const BACK_TARGET_MS = 10_000;
const CPU_RATIO_BOUND = 1.0;
const P99_RATIO_BOUND = 1.2;
/** Edits and reactions may make a figure at most this much worse than messages alone. */
const MUTATION_BOUND = 1.1;

/**
 * How many connections a run has: 10,000, 500 in quick mode, or `BENCH_ROOMS_CONNECTIONS` (a
 * multiple of 10 from 300, to look into the scenario at a reduced scale in a minute or two; a
 * report at another scale than 10,000 says so in each verdict).
 */
export function scaledConnections(quick, env = process.env) {
  const raw = env.BENCH_ROOMS_CONNECTIONS;
  if (raw === undefined || raw === '') return quick ? 500 : FULL_CONNECTIONS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 300 || n % HOME !== 0) throw new Error(`BENCH_ROOMS_CONNECTIONS must be a multiple of ${HOME}, at least 300 (got ${raw})`);
  return n;
}

/**
 * The rooms of connection i (as indexes among `roomCount`): its home room, then two more. For each
 * offset j = i mod 10 the maps k -> k+1+j and k -> k+11+2j are bijections, so every room gets
 * exactly 10 members of each kind (30 in all), and the three rooms differ when roomCount >= 30.
 */
export function roomsOf(i, roomCount) {
  const k = Math.floor(i / HOME) % roomCount;
  const j = i % HOME;
  return [k, (k + 1 + j) % roomCount, (k + 11 + 2 * j) % roomCount];
}

/** The connection that sends event n: a home member of room n mod rooms, each in turn. */
export function senderOf(n, roomCount) {
  const k = n % roomCount;
  return k * HOME + (Math.floor(n / roomCount) % HOME);
}

/** Whether event n is an edit or a reaction instead of a message (every `mutateEvery`th). */
export function isMutation(n, mutateEvery) {
  return mutateEvery > 0 && n % mutateEvery === mutateEvery - 1;
}

/**
 * Open-loop senders over the rooms: event n is due at start + n/rate whatever the server does, and
 * goes from `senderOf(n)` to its home room; skipped when that connection is not in (during the
 * storm). An edit or reaction (every `mutateEvery`th event) is about the room's last message: an
 * edit comes from its author (only authors edit), a reaction from `senderOf(n)`; with no acked
 * message in the room yet, a message is sent instead. `kinds[n]`: 1 message sent, 2 edit or
 * reaction sent, 0 skipped.
 */
function startRoomSenders(clients, { rate, rooms, mutateEvery = 0, textLength = 64 }, { firstMsgNo, kinds, lastAuthor }) {
  const started = performance.now();
  let sent = 0;
  let stopped = false;
  let timer;
  const isIn = (c) => Boolean(c?.ready && c.ws && c.ws.readyState === OPEN);
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (sent < due) {
      const n = firstMsgNo + sent++;
      const k = n % rooms;
      const index = senderOf(n, rooms);
      const sender = clients[index];
      if (!isIn(sender) || n >= kinds.length) continue;
      const author = lastAuthor[k] === -1 ? null : clients[lastAuthor[k]];
      if (isMutation(n, mutateEvery) && author && author.lastMessageId !== null) {
        const edit = Math.floor(n / mutateEvery) % 2 === 0;
        const from = edit ? author : sender;
        if (isIn(from)) {
          const common = { room: author.room, clientId: `${RUN_TAG}_m${n}`, messageId: author.lastMessageId };
          from.ws.send(JSON.stringify(edit ? { type: 'edit', ...common, text: `edited by the bench, event ${n}` } : { type: 'react', ...common, emoji: '👍', on: true }));
          kinds[n] = 2;
          continue;
        }
      }
      sender.sendChat(n, textLength);
      lastAuthor[k] = index;
      kinds[n] = 1;
    }
    timer = setTimeout(tick, Math.max(1, Math.min(10, 1000 / rate)));
  };
  timer = setTimeout(tick, 0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      return firstMsgNo + sent;
    },
    get next() {
      return firstMsgNo + sent;
    },
  };
}

export default {
  id: 'rooms',
  title: 'Many rooms: 10,000 connections in 1,000 rooms',
  targets: TARGETS,
  defaultTargets: DEFAULT_TARGETS,

  plan({ quick }) {
    const connections = scaledConnections(quick);
    const rooms = connections / HOME;
    // The full scale's 1,000 msg/s is one message per room per second: a reduced scale keeps that
    // (and so each room's traffic and every connection's share of it), quick mode a twentieth.
    const rate = quick ? 50 : rooms;
    // ~20-25 s a Chatter run at full scale (server start, 10,000 connections, 1 s warm-up, 2.5 s
    // window at 25,000 deliveries/s, the drain, the reconnect storm, shutdown), ~10 s a coalescing
    // floor's: 3 rounds of both, and 3 of Chatter with edits and reactions, ~3.5 minutes with the
    // set-up (estimated from the idle scenario's 10,000 connections; not yet timed on a quiet machine).
    const common = {
      connections,
      rooms,
      rate,
      textLength: 64,
      warmupMs: quick ? 700 : 1000,
      windowMs: quick ? 1500 : 2500,
      drainMs: 3000,
      connectDeadlineMs: 120_000,
      // Twice the target: a return still incomplete by then is reported as how many were back, and
      // waiting longer only spends the suite's 15 minutes (six Chatter returns) on a verdict already known.
      maxBackMs: 2 * BACK_TARGET_MS,
    };
    // Quick mode's few events would hold no edit at 1 in 1,000: 1 in 50 there, to exercise the path.
    const mutateEvery = quick ? 50 : 1000;
    return {
      rounds: quick ? 1 : 3,
      chatterUsers: connections,
      steps: [
        { key: 'messages', params: { ...common, mutateEvery: 0 } },
        { key: 'edits', targets: ['chatter'], params: { ...common, mutateEvery } },
      ],
    };
  },

  /**
   * Chatter's rooms, created through its REST API on a copy of the shared database (the other
   * scenarios keep users who are in `general` only): each room by its first home member, half
   * public (the others join), half private (the owner invites them). Limits on room creation and
   * membership changes are raised for the set-up (RAISED_LIMITS). Not measured.
   */
  async prepare({ workDir, quick, serverCpu, sharedDataDir, startTarget, say }) {
    const { connections, rooms } = this.plan({ quick }).steps[0].params;
    const peerRooms = Array.from({ length: rooms }, (_, k) => `room${k}`);
    const tokensFile = join(workDir, 'tokens.json');
    const users = existsSync(tokensFile) ? JSON.parse(readFileSync(tokensFile, 'utf8')) : [];
    if (users.length < connections || !existsSync(sharedDataDir)) return { extra: { peerRooms } };
    const dataDir = join(workDir, 'chatter-rooms');
    cpSync(sharedDataDir, dataDir, { recursive: true });
    const t0 = performance.now();
    const server = await startTarget('chatter', { cpu: serverCpu, dataDir, bcryptCost: 4, env: { CHATTER_SQLITE_SYNC: 'normal' } });
    const ids = new Array(rooms);
    let memberships = 0;
    const cpuBefore = readCpuSplitMicros(server.pid);
    let serverCpuMs = null;
    try {
      say(`rooms: creating ${num(rooms)} rooms and their members through the API`);
      await inParallel(rooms, 16, async (k) => {
        const owner = users[k * HOME];
        const r = await apiPost(server.url, '/api/rooms', owner.token, { name: `bench room ${k}`, visibility: k % 2 ? 'public' : 'private' });
        if (r.status !== 201) throw new Error(`create room ${k}: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
        ids[k] = r.json.room.id;
      });
      const adds = [];
      for (let i = 0; i < connections; i++) for (const k of roomsOf(i, rooms)) if (i !== k * HOME) adds.push([i, k]);
      await inParallel(adds.length, 32, async (a) => {
        const [i, k] = adds[a];
        const r =
          k % 2
            ? await apiPost(server.url, `/api/rooms/${ids[k]}/join`, users[i].token)
            : await apiPost(server.url, `/api/rooms/${ids[k]}/members`, users[k * HOME].token, { userId: users[i].id });
        if (r.status !== 200) throw new Error(`add user ${i} to room ${k}: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
        memberships++;
      });
      const cpuAfter = readCpuSplitMicros(server.pid);
      if (cpuBefore && cpuAfter) serverCpuMs = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000;
    } finally {
      await server.stop();
    }
    const setupMs = performance.now() - t0;
    say(`rooms: ${num(rooms)} rooms, ${num(memberships)} memberships added in ${num(setupMs / 1000, 1)} s (server CPU ${num((serverCpuMs ?? 0) / 1000, 1)} s)`);
    return { dataDir, extra: { chatterRooms: ids, peerRooms }, info: { setupMs, rooms, memberships, serverCpuMs } };
  },

  /**
   * After the counted rounds: one profiled Chatter run (uncounted) of the plain step when Chatter
   * misses a target there against the coalescing floor, so the report can show where the time goes.
   */
  profileSteps(runs) {
    const ok = runs.filter((r) => r.result);
    const c = aggregate(ok.filter((r) => r.target === 'chatter' && r.step === 'messages').map((r) => r.result));
    const f = aggregate(ok.filter((r) => r.target === 'ws-coalesce' && r.step === 'messages').map((r) => r.result));
    if (!c || !f) return [];
    const missed = c.cpuPerDelivery.median / f.cpuPerDelivery.median > CPU_RATIO_BOUND || c.p99.median / f.p99.median > P99_RATIO_BOUND || c.backMs.median >= BACK_TARGET_MS;
    return missed ? ['messages'] : [];
  },

  summaryLine(r) {
    const lat = Histogram.fromJSON(r.latency);
    return `${num(r.ready)}/${num(r.connections)} in, ${num(r.deliveredPerSec)} deliveries/s, p50 ${ms(lat.percentile(50))} ms, p99 ${ms(lat.percentile(99))} ms, late ${num(r.undelivered)}, server ${num(r.cpuPerDeliveryMicros, 2)} µs/delivery (${pct(r.serverCpuShare)}), generator ${pct(r.generatorCpuShare)}; all back${r.resumed ? ' with resume' : ''} in ${num(r.backMs)} ms${r.allBack ? '' : ` (only ${num(r.back)})`}`;
  },

  async load(p, { target, tokens, extra, log }) {
    const chatter = target.kind === 'chatter';
    const names = chatter ? extra.chatterRooms : extra.peerRooms;
    if (!names) throw new Error('the Chatter rooms were not set up (too few registered users?)');
    if (p.rooms < 30 || p.connections !== p.rooms * HOME) throw new Error('rooms: need connections = 10 x rooms and at least 30 rooms');
    // A Chatter user is in `general` too (everyone is, from registration): silent here, but resumed
    // like any room a client holds.
    const clients = Array.from(
      { length: p.connections },
      (_, i) => new BenchClient(target, { index: i, token: tokens[i]?.token, rooms: [...roomsOf(i, p.rooms).map((k) => names[k]), ...(chatter ? ['general'] : [])] }),
    );
    const maxMsgs = Math.ceil((p.rate * (p.warmupMs + p.windowMs + p.maxBackMs + 20_000) * 2) / 1000) + 1000;
    const received = new Uint16Array(maxMsgs);
    const kinds = new Uint8Array(maxMsgs);
    const latency = new Histogram();
    let windowFirst = Infinity;
    let windowEnd = Infinity;
    let inWindow = false;
    let windowDeliveries = 0;
    const onDelivery = (n, sentMicros, client) => {
      if (n < maxMsgs) received[n]++;
      if (inWindow) windowDeliveries++;
      if (n >= windowFirst && n < windowEnd) latency.record(client.receivedMicros - sentMicros);
    };
    for (const c of clients) c.onDelivery = onDelivery;
    const otherEvents = () => clients.reduce((a, c) => a + c.otherEvents, 0);

    const t0 = performance.now();
    const connected = await connectAll(clients, { deadlineMs: p.connectDeadlineMs });
    const connectMs = performance.now() - t0;
    log('connected', connected);
    // Presence of 10,000 arrivals settles (batched by the server) before anything is measured.
    await waitQuiet({ quietMs: 700, maxMs: 15_000 });
    const readyPerRoom = new Uint32Array(p.rooms);
    for (let i = 0; i < clients.length; i++) if (clients[i].ready) for (const k of roomsOf(i, p.rooms)) readyPerRoom[k]++;

    /** Per room, the connection that sent its last message (-1: none yet). */
    const lastAuthor = new Int32Array(p.rooms).fill(-1);
    const run = startRoomSenders(clients, p, { firstMsgNo: 0, kinds, lastAuthor });
    await sleep(p.warmupMs);
    windowFirst = run.next;
    const othersBefore = otherEvents();
    inWindow = true;
    // A profiling run (--profile; not counted) profiles the window and the return separately.
    const windowProfile = await maybeProfile(target, `rooms-window-${p.mutateEvery ? 'edits' : 'messages'}`);
    const win = openWindow(target.pid);
    await sleep(p.windowMs);
    const measured = closeWindow(win);
    await windowProfile?.stop();
    inWindow = false;
    const othersInWindow = otherEvents() - othersBefore;
    windowEnd = run.stop();
    let expected = 0;
    let sentInWindow = 0;
    let mutationsInWindow = 0;
    for (let n = windowFirst; n < windowEnd; n++) {
      if (kinds[n] === 1) {
        sentInWindow++;
        expected += readyPerRoom[n % p.rooms];
      } else if (kinds[n] === 2) mutationsInWindow++;
    }
    const receivedOf = () => {
      let total = 0;
      for (let n = windowFirst; n < windowEnd; n++) if (kinds[n] === 1) total += Math.min(received[n], readyPerRoom[n % p.rooms]);
      return total;
    };
    // Drain: deliveries of the window's messages still on their way; what is missing after it is late.
    const drainStart = performance.now();
    let lastCount = -1;
    let lastChange = drainStart;
    while (performance.now() - drainStart < p.drainMs) {
      const count = receivedOf();
      if (count >= expected) break;
      if (count !== lastCount) {
        lastCount = count;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > 1000) break;
      await sleep(100);
    }
    const got = receivedOf();
    let duplicates = 0;
    for (let n = windowFirst; n < windowEnd; n++) if (kinds[n] === 1) duplicates += Math.max(0, received[n] - readyPerRoom[n % p.rooms]);

    // Every connection drops at once (no close handshake) and comes back, Chatter's with the last
    // seq it holds in each of its rooms, while the messages keep flowing from whoever is back.
    await waitQuiet({ quietMs: 300, maxMs: 5000 });
    for (const c of clients) c.drop();
    const storm = startRoomSenders(clients, p, { firstMsgNo: windowEnd, kinds, lastAuthor });
    const returnProfile = await maybeProfile(target, `rooms-return-${p.mutateEvery ? 'edits' : 'messages'}`);
    const s0 = performance.now();
    const stormWin = openWindow(target.pid);
    const resumeOf = chatter ? (c) => c.resumeState() : undefined;
    // Why connects failed while coming back (a failed one is retried): summed over the attempts.
    const returnErrors = {};
    const attempt = async (list, deadlineMs) => {
      const r = await connectAll(list, { concurrency: 400, deadlineMs, resumeOf });
      for (const [k, v] of Object.entries(r.errors)) returnErrors[k] = (returnErrors[k] ?? 0) + v;
    };
    await attempt(clients, p.maxBackMs);
    // Like a real client, one that fails or is closed again while coming back retries.
    while (!clients.every((c) => c.ready && !c.connecting) && performance.now() - s0 < p.maxBackMs) {
      const down = clients.filter((c) => !c.ready && !c.connecting);
      if (down.length) await attempt(down, p.maxBackMs - (performance.now() - s0));
      else await sleep(20);
    }
    const backMs = performance.now() - s0;
    const stormMeasured = closeWindow(stormWin);
    storm.stop();
    await returnProfile?.stop();
    // Back: hello received and, for Chatter, every room's replay (`connecting` ends with the last).
    const back = clients.filter((c) => c.ready && !c.connecting).length;
    // For a return that is not complete: where the missing ones were (no hello yet, or waiting
    // for the replay of some rooms, `general` or others).
    const notBack = { noHello: 0, waitingReplay: 0, waitingGeneral: 0, waitingOtherRooms: 0, notConnecting: 0 };
    for (const c of clients) {
      if (c.ready && !c.connecting) continue;
      if (!c.connecting) notBack.notConnecting++;
      else if (!c.hello) notBack.noHello++;
      else {
        notBack.waitingReplay++;
        if (c._resumePending.has('general')) notBack.waitingGeneral++;
        if ([...c._resumePending].some((r) => r !== 'general')) notBack.waitingOtherRooms++;
      }
    }
    const closeCodes = {};
    for (const c of clients) for (const code of c.closes) closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    const errors = countsMerge(clients.map((c) => c.errors));
    const resumeGapFrames = clients.reduce((a, c) => a + c.resumeGaps + c.resumeAheads, 0);
    for (const c of clients) c.close();
    const deliveries = windowDeliveries + othersInWindow;
    let mutationsSent = 0;
    for (let n = 0; n < kinds.length; n++) if (kinds[n] === 2) mutationsSent++;
    return {
      connections: p.connections,
      rooms: p.rooms,
      roomSize: ROOMS_PER_USER * HOME,
      rate: p.rate,
      mutateEvery: p.mutateEvery,
      ready: connected.ok,
      connectFailed: connected.failed,
      connectErrors: connected.errors,
      connectMs,
      windowMs: measured.wallMs,
      sentInWindow,
      mutationsInWindow,
      deliveredInWindow: windowDeliveries,
      otherEventsInWindow: othersInWindow,
      // Over the whole run (window, drain and return): edits and reactions sent, and every event
      // other than a new message that the clients received (their room's members get each one).
      mutationsSent,
      otherEventsReceived: otherEvents(),
      deliveredPerSec: deliveries / (measured.wallMs / 1000),
      expectedDeliveries: expected,
      receivedDeliveries: got,
      undelivered: expected - got,
      duplicates,
      latency: latency.toJSON(),
      serverCpuMicros: measured.serverCpuMicros,
      cpuPerDeliveryMicros: measured.serverCpuMicros === null || deliveries === 0 ? null : measured.serverCpuMicros / deliveries,
      serverCpuShare: measured.serverCpuShare,
      generatorCpuShare: measured.selfCpuShare,
      rssKiB: measured.rssKiB,
      resumed: chatter,
      back,
      allBack: back === p.connections,
      backMs,
      stormServerCpuShare: stormMeasured.serverCpuShare,
      stormGeneratorCpuShare: stormMeasured.selfCpuShare,
      resumeGapFrames,
      notBack,
      closeCodes,
      errors,
      returnErrors,
    };
  },

  report(runs, { targets, prepared, profiles = [] }) {
    const ok = runs.filter((r) => r.result);
    const of = (t, step) => aggregate(ok.filter((r) => r.target === t && r.step === step).map((r) => r.result));
    const columns = [];
    for (const t of targets) {
      const a = of(t, 'messages');
      if (a) columns.push({ key: t, title: label(t), a });
      if (t === 'chatter') {
        const e = of(t, 'edits');
        if (e) columns.push({ key: 'chatter-edits', title: `Chatter, 1 in ${num(e.mutateEvery)} an edit or reaction`, a: e });
      }
    }
    if (!columns.length) return { markdown: 'No successful run.', charts: [], verdicts: [] };
    const c = of('chatter', 'messages');
    const f = of('ws-coalesce', 'messages');
    const e = of('chatter', 'edits');
    const bound = (a) => Boolean(a) && a.generatorCpuShare.median !== null && a.generatorCpuShare.median > GENERATOR_BOUND_SHARE;
    const n = columns[0].a.connections;
    const cell = (s, fmt, a) => (s.median === null ? '–' : `${fmt(s.median)}${s.n > 1 ? ` (${fmt(s.min)}–${fmt(s.max)})` : ''}${a && bound(a) ? ' (generator-bound)' : ''}`);
    const metrics = [
      ['delivered/s (window)', (a) => a.deliveredPerSec, (v) => num(v), true],
      ['latency p50 (ms)', (a) => a.p50, (v) => ms(v), true],
      ['latency p99 (ms)', (a) => a.p99, (v) => ms(v), true],
      ['server CPU µs / delivery', (a) => a.cpuPerDelivery, (v) => num(v, 2), true],
      ['server CPU (share of its core)', (a) => a.serverCpuShare, (v) => pct(v), false],
      ['generator CPU', (a) => a.generatorCpuShare, (v) => pct(v), true],
      ['server RSS (MB)', (a) => a.rssMiB, (v) => num(v), false],
      ['fresh connect of all (ms)', (a) => a.connectMs, (v) => num(v), false],
      ['drop and back of all (ms)', (a) => a.backMs, (v) => num(v), false],
      ['server CPU during the return', (a) => a.stormServerCpuShare, (v) => pct(v), false],
      ['generator CPU during the return', (a) => a.stormGeneratorCpuShare, (v) => pct(v), false],
    ];
    const ratioCols = [];
    if (c && f) ratioCols.push({ title: 'Chatter / coalescing floor', x: c, y: f });
    if (c && e) ratioCols.push({ title: 'with edits / without', x: e, y: c });
    const rows = metrics.map(([name, get, fmt, marked]) => [
      name,
      ...columns.map((col) => cell(get(col.a), fmt, marked && col.a)),
      ...ratioCols.map(({ x, y }) => (name.startsWith('generator') || name.startsWith('server CPU (') || name.startsWith('server CPU during') ? '' : ratio(get(x).median, get(y).median))),
    ]);
    rows.push(['late (still missing after the drain), all rounds', ...columns.map((col) => num(col.a.late)), ...ratioCols.map(() => '')]);
    rows.push(['duplicates, all rounds', ...columns.map((col) => num(col.a.duplicates)), ...ratioCols.map(() => '')]);
    rows.push(['back after the drop (fewest in a round)', ...columns.map((col) => `${num(col.a.backMin)}/${num(n)}`), ...ratioCols.map(() => '')]);
    const p0 = ok[0]?.params ?? {};
    const lines = [
      `${num(n)} connections, one user each, in ${num(columns[0].a.rooms)} rooms; each user is in ${ROOMS_PER_USER} rooms, so each room has ${num(columns[0].a.roomSize)} members (the 10 whose first room it is and 20 others: with ${num(n)} users in ${num(columns[0].a.rooms)} rooms, "rooms of 10" and "3 rooms each" cannot both hold, and the bench keeps the counts of connections, rooms and rooms per user). ${num(p0.rate)} messages/s offered (open loop), round-robin over the rooms, each from one of its room's first 10 members in turn: ${num(p0.rate * columns[0].a.roomSize)} deliveries/s when every message reaches its room. ${num((p0.warmupMs ?? 0) / 1000, 1)} s warm-up, ${num((p0.windowMs ?? 0) / 1000, 1)} s measured, up to ${num((p0.drainMs ?? 0) / 1000, 1)} s drain. Then every connection drops at once (no close handshake) and reconnects (at most 400 handshakes in flight) while the messages keep flowing from whoever is back: Chatter clients with \`resume\` naming each of their rooms (\`general\` too, where every Chatter user also is, silent here), so "back" means connected and every room's replay received; the peers have no resume, so for them it is the reconnect alone.`,
      '',
      `Room routing everywhere: Chatter's rooms are created through its REST API in the set-up (half public, joined by their members; half private, their members invited by the owner${prepared ? `; ${num(prepared.rooms)} rooms and ${num(prepared.memberships)} memberships in ${num(prepared.setupMs / 1000, 1)} s, not measured` : ''}) and it delivers by membership; the coalescing floor and the ws floor keep a set of sockets per room, Socket.IO its rooms (\`io.to(room).emit\`). Each figure is the median over the rounds with its min–max; ratios are ratios of medians. CPU per delivery counts every event delivered (messages, and in the edits step the edits and reactions too). The edits step (Chatter only) makes every ${num(e?.mutateEvery ?? 1000)}th event, instead of a message, an edit of its room's last message (by its author) or a reaction to it (by the event's sender), alternately${e ? ` (${num(e.mutationsInWindow)} in the measured windows, ${num(e.mutationsSent)} in all the runs, ${num(e.otherEventsReceived)} deliveries of them)` : ''}.`,
      '',
      table(['Metric', ...columns.map((col) => col.title), ...ratioCols.map((r) => r.title)], rows),
    ];
    for (const col of columns) {
      const codes = countsText(col.a.closeCodes);
      const errs = countsText(col.a.errors);
      const missing = countsText(Object.fromEntries(Object.entries(col.a.notBack).filter(([, v]) => v > 0)));
      if (codes !== 'none' || errs !== 'none' || missing !== 'none') lines.push('', `- ${col.title}: closes ${codes}; errors ${errs}${col.a.resumeGapFrames ? `; resume_gap/resume_ahead frames ${num(col.a.resumeGapFrames)}` : ''}${missing !== 'none' ? `; not back at the end of the return, all rounds: ${missing}` : ''}`);
    }
    const verdicts = [];
    const judgeRatio = (what, x, y, limit, get, fmt, unit) => {
      const ratioValue = get(x).median / get(y).median;
      const boundBy = bound(x) || bound(y);
      const v = {
        target: what,
        measured: `${fmt(get(x).median)} vs ${fmt(get(y).median)} ${unit} (${num(ratioValue, 2)}×)${boundBy ? `; generator-bound: median generator share ${pct(Math.max(x.generatorCpuShare.median ?? 0, y.generatorCpuShare.median ?? 0))}` : ''}`,
        met: boundBy ? null : ratioValue <= limit,
        ...(boundBy && { reason: 'generator-bound' }),
      };
      return atScale(v, n, FULL_CONNECTIONS, 'connections');
    };
    if (c && f) {
      verdicts.push(judgeRatio(`Many rooms: server CPU per delivery ≤ ${num(CPU_RATIO_BOUND, 1)}× the coalescing floor`, c, f, CPU_RATIO_BOUND, (a) => a.cpuPerDelivery, (v) => num(v, 2), 'µs'));
      verdicts.push(judgeRatio(`Many rooms: p99 latency ≤ ${num(P99_RATIO_BOUND, 1)}× the coalescing floor`, c, f, P99_RATIO_BOUND, (a) => a.p99, (v) => ms(v), 'ms'));
    }
    if (c) {
      verdicts.push(
        atScale(
          {
            target: `Many rooms: all ${num(n)} connections back with resume in < ${num(BACK_TARGET_MS / 1000)} s`,
            measured: `${num(c.backMs.median / 1000, 1)} s${c.backMs.n > 1 ? ` (${num(c.backMs.min / 1000, 1)}–${num(c.backMs.max / 1000, 1)})` : ''}, fewest back in a round ${num(c.backMin)}/${num(n)}`,
            met: c.backMin === n && c.backMs.median < BACK_TARGET_MS,
          },
          n,
          FULL_CONNECTIONS,
          'connections',
        ),
      );
    }
    if (c && e) {
      const parts = [
        ['CPU per delivery', (a) => a.cpuPerDelivery],
        ['p99', (a) => a.p99],
        ['return with resume', (a) => a.backMs],
      ].map(([name, get]) => ({ name, r: get(e).median / get(c).median }));
      const boundBy = bound(c) || bound(e);
      // Worse by more than 10% fails; better is no change for the worse (and on a shared machine, noise).
      const v = atScale(
        {
          target: `Many rooms: 1 event in 1,000 an edit or a reaction makes CPU per delivery, p99 and the return at most ${num((MUTATION_BOUND - 1) * 100)}% worse`,
          measured: parts.map((x) => `${x.name} ${num(x.r, 2)}×`).join(', ') + (boundBy ? '; generator-bound' : ''),
          met: boundBy ? null : parts.every((x) => x.r <= MUTATION_BOUND),
          ...(boundBy && { reason: 'generator-bound' }),
        },
        n,
        FULL_CONNECTIONS,
        'connections',
      );
      // Quick mode makes 1 event in 50 an edit or reaction, to exercise the path: shown, not judged.
      verdicts.push(e.mutateEvery === 1000 ? v : { ...v, measured: `${v.measured} (1 in ${num(e.mutateEvery)} in quick mode)`, met: null });
    }
    if (verdicts.length) lines.push('', verdictTable(verdicts, 'issue 11'));
    const why = notMetWhy({ c, f, e, verdicts, profiles });
    if (why.length) lines.push('', ...why);
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};

/** One target at one step over its rounds: each figure's spread, late and duplicates summed. */
function aggregate(results) {
  if (!results.length) return null;
  const s = (get) => spread(results.map(get));
  return {
    connections: results[0].connections,
    rooms: results[0].rooms,
    roomSize: results[0].roomSize,
    mutateEvery: results[0].mutateEvery,
    mutationsInWindow: results.reduce((a, r) => a + (r.mutationsInWindow ?? 0), 0),
    mutationsSent: results.reduce((a, r) => a + (r.mutationsSent ?? 0), 0),
    otherEventsReceived: results.reduce((a, r) => a + (r.otherEventsReceived ?? 0), 0),
    deliveredPerSec: s((r) => r.deliveredPerSec),
    p50: s((r) => Histogram.fromJSON(r.latency).percentile(50)),
    p99: s((r) => Histogram.fromJSON(r.latency).percentile(99)),
    cpuPerDelivery: s((r) => r.cpuPerDeliveryMicros),
    serverCpuShare: s((r) => r.serverCpuShare),
    generatorCpuShare: s((r) => r.generatorCpuShare),
    rssMiB: s((r) => (r.rssKiB === null ? null : r.rssKiB / 1024)),
    connectMs: s((r) => r.connectMs),
    backMs: s((r) => r.backMs),
    stormServerCpuShare: s((r) => r.stormServerCpuShare),
    stormGeneratorCpuShare: s((r) => r.stormGeneratorCpuShare),
    backMin: Math.min(...results.map((r) => r.back)),
    late: results.reduce((a, r) => a + r.undelivered, 0),
    duplicates: results.reduce((a, r) => a + r.duplicates, 0),
    resumeGapFrames: results.reduce((a, r) => a + r.resumeGapFrames, 0),
    notBack: countsMerge(results.map((r) => r.notBack ?? {})),
    closeCodes: countsMerge(results.map((r) => r.closeCodes)),
    errors: countsMerge(
      results.map((r) => ({
        ...r.errors,
        ...Object.fromEntries(Object.entries(r.connectErrors ?? {}).map(([k, v]) => [`connect: ${k}`, v])),
        ...Object.fromEntries(Object.entries(r.returnErrors ?? {}).map(([k, v]) => [`coming back: ${k}`, v])),
      })),
    ),
  };
}

/**
 * Why a many-rooms target is missed, in figures of the run: what differs from the floor per message,
 * and the flame graphs of the profiled run (window and return) where one was taken.
 */
function notMetWhy({ c, f, e, verdicts, profiles }) {
  const out = [];
  const missed = (prefix) => verdicts.some((v) => v.met === false && v.target.startsWith(prefix));
  const flame = (name) => profiles.find((p) => p.name === name && p.flameLink);
  const windowFlame = flame('rooms-window-messages');
  const returnFlame = flame('rooms-return-messages');
  const see = (p, what) => (p ? ` Where Chatter's time goes ${what}: [flame graph](${p.flameLink}) (an uncounted profiled run; see "Where Chatter spends its CPU" below).` : '');
  if (c && f && missed('Many rooms: server CPU per delivery')) {
    const gap = c.cpuPerDelivery.median - f.cpuPerDelivery.median;
    const perSocket = c.deliveredPerSec.median / c.connections;
    out.push(
      `- **Not met: CPU per delivery.** Chatter spends ${num(gap, 2)} µs more than the floor per delivery, ${num(gap * c.roomSize)} µs per message (${num(c.roomSize)} deliveries each). With messages spread over ${num(c.rooms)} rooms a socket receives about ${num(perSocket, 1)} a second, so neither side can join messages into fewer writes: both write each delivery on its own, and the floor does little else. What Chatter adds per message is what the floor leaves out: it authenticates and validates the frame, checks the sender's membership, stores the message and its event in SQLite (a transaction per batch of sends, the log fsynced before the ack) and acks it. At or below the floor would need that work to cost nothing, or Chatter's write of a delivery to cost less than the floor's, which is the same system call.${see(windowFlame, 'in the window')}`,
    );
  }
  if (c && f && missed('Many rooms: p99')) {
    out.push(
      `- **Not met: p99.** Chatter fans a message out only once its batch is committed and the log fsynced (the floor stores nothing): the gap between the p50s (${ms(c.p50.median)} vs ${ms(f.p50.median)} ms) is where that wait shows, and the p99 collects its longer occurrences (a batch that waits for the one before it, a slower fsync, the write-ahead log's checkpoints, which run on the event loop) and the pauses of the garbage collector, whose heap holds what 10,000 connections and their rooms need (measured with a GC observer in the server, not in this run: young-generation pauses of about 9 ms, 2 to 4 a second in the window, and an old-generation pause of 15–30 ms now and then; the floor's whole process is about half Chatter's size: server RSS above). Chatter's p99 ranged ${ms(c.p99.min)}–${ms(c.p99.max)} ms over the rounds, the floor's ${ms(f.p99.min)}–${ms(f.p99.max)} ms.${see(windowFlame, 'in the window')}`,
    );
  }
  if (c && missed('Many rooms: all')) out.push(`- **Not met: the return.** ${see(returnFlame, 'during the return').trim() || 'No profile of the return was taken (`--profile` takes one).'}`);
  if (c && e && missed('Many rooms: 1 event in')) {
    const within = (get) => get(e).median >= get(c).min && get(e).median <= get(c).max;
    const figures = [
      ['CPU per delivery', (a) => a.cpuPerDelivery, (v) => num(v, 2), 'µs'],
      ['p99', (a) => a.p99, (v) => ms(v), 'ms'],
      ['the return', (a) => a.backMs, (v) => num(v / 1000, 1), 's'],
    ].filter(([, get]) => get(e).median / get(c).median > MUTATION_BOUND);
    out.push(
      `- **Not met: edits and reactions.** ${figures
        .map(([name, get, fmt, unit]) => `${name} with them ${fmt(get(e).median)} ${unit} against ${fmt(get(c).median)} ${unit} without (without, the rounds ranged ${fmt(get(c).min)}–${fmt(get(c).max)} ${unit}${within(get) ? ': the median with them lies within that range, so these rounds cannot tell the difference from the spread between rounds' : ''})`)
        .join('; ')}. An edit or reaction costs more than a message (a read of the message, a larger event), but at 1 in 1,000 events that is a share of a thousandth.`,
    );
  }
  return out;
}
