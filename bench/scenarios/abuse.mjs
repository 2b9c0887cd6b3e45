// Abuse (Chatter only): the denial-of-service reproductions of issue 9, one after another, each
// against a fresh server with the server's own default limits (the bench's raised rate limits are
// put back). While each attack runs, three normal users keep chatting in `general` and their message
// round trip is measured; the figures of record are the server's peak RSS (VmRSS sampled from
// /proc, and VmHWM), the normal p99 during the attack against the p99 just before it, and what the
// attacker got. The attack runs in a worker thread, so its own work (reading 24 MB replies, 300
// sockets) does not delay the normal clients' event loop; every wait is bounded by a deadline, and an
// attack is stopped early if the server's RSS passes ABORT_RSS_MIB (the machine is shared).
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { BENCH_PASSWORD, registerUsers } from '../lib/chatter-setup.mjs';
import { readMemoryKiB } from '../lib/proc.mjs';
import { RAISED_LIMITS } from '../lib/targets.mjs';
import { Histogram, spread } from '../lib/stats.mjs';
import { BenchClient, connectAll, nowMicros, sleep, startSenders } from '../load/clients.mjs';
import { chatterWsPath, frameType, parseFrame, splitFrames } from '../load/protocols.mjs';
import { countsMerge, countsText, ms, num, table, verdictTable } from '../report/format.mjs';

/**
 * The documented bound (bench/README.md, docs/benchmarks.md): the server's peak RSS under any one
 * reproduction. An idle server holds about 120 MB; the largest single allowance the server's limits
 * make is image decoding (CHATTER_IMAGE_JOBS x 6 bytes x CHATTER_AVATAR_MAX_PIXELS = 192 MB at the
 * defaults, README); the rest is room for send buffers, bodies and the JavaScript heap.
 */
export const RSS_BOUND_MIB = 384;
/** Other clients' p99 during an attack, at most this many times their p99 just before it. */
export const P99_RATIO_BOUND = 2;
/** Past this the attack is stopped and the server's RSS is reported as "at least". */
export const ABORT_RSS_MIB = 1536;

export const NORMAL_USERS = 5;
export const ATTACKER_USERS = 8;
/** 4,000 U+0001 characters: each escapes to `\u0001` (6 bytes) in JSON, 24 KB a message. */
export const CONTROL_TEXT_CHARS = 4000;

/** The reproductions of issue 9's "Done when", in the order they run. */
export const ATTACKS = [
  { key: 'resume', title: '40 `resume` frames after 1,000 large messages', params: { frames: 40 } },
  { key: 'history', title: '2,000 `history` frames on one socket', params: { frames: 2000 } },
  { key: 'sockets', title: '300 sockets from one token, each sending', params: { sockets: 300, perSocket: 2 } },
  { key: 'bodies', title: '1 MB JSON bodies to `/api/login`', params: { requests: 50, bytes: 1_000_000, concurrency: 10 } },
  { key: 'avatars', title: '8 parallel 6300x6300 GIF avatars', params: { uploads: 8, side: 6300 } },
  { key: 'registrations', title: '40 parallel anonymous registrations', params: { requests: 40 } },
];

// ---- Pure helpers (unit-tested in bench/test) ----

/** Text whose JSON encoding is 6 bytes a character: the cheapest way to make a reply large. */
export function controlText(chars = CONTROL_TEXT_CHARS) {
  return '\u0001'.repeat(chars);
}

/**
 * A JSON object of about `bytes` bytes: a login with thousands of unknown keys, each of which an
 * unbounded validator lists in its answer.
 */
export function oversizedLoginBody(bytes) {
  const head = '{"username":"nobody","password":"wrong password"';
  const parts = [head];
  let size = head.length + 1;
  for (let i = 0; size < bytes; i++) {
    const part = `,"k${i}":0`;
    parts.push(part);
    size += part.length;
  }
  parts.push('}');
  return parts.join('');
}

/** A label for one HTTP answer: status and catalogue code when the body has one. */
export function httpOutcome(status, bodyHead) {
  const code = /"code"\s*:\s*"([a-z_]+)"/.exec(bodyHead ?? '')?.[1];
  return code ? `HTTP ${status} ${code}` : `HTTP ${status}`;
}

/** Peak RSS in KiB from samples and the kernel's high-water mark (either may be missing). */
export function peakKiB(samples, hwmKiB) {
  const values = [...samples, hwmKiB].filter((v) => typeof v === 'number' && Number.isFinite(v));
  return values.length ? Math.max(...values) : null;
}

/**
 * Judge one attack: {rssMet, p99Met, ratio}. null when a figure is missing (no samples, the server
 * died before it could be read).
 */
export function judge({ peakRssKiB, baselineP99, attackP99 }, { rssBoundMiB = RSS_BOUND_MIB, ratioBound = P99_RATIO_BOUND } = {}) {
  const ratio = baselineP99 > 0 && Number.isFinite(attackP99) ? attackP99 / baselineP99 : null;
  return {
    rssMet: peakRssKiB === null || peakRssKiB === undefined ? null : peakRssKiB <= rssBoundMiB * 1024,
    p99Met: ratio === null ? null : ratio <= ratioBound,
    ratio,
  };
}

/** HTTP answers that refused (4xx, 5xx), out of counts by label; timeouts and network errors are not answers. */
export function refusedHttp(outcomes) {
  let refused = 0;
  for (const [label, count] of Object.entries(outcomes ?? {})) if (/^HTTP [45]\d\d\b/.test(label)) refused += count;
  return refused;
}

// ---- HTTP and WebSocket plumbing for the attacker (bounded by a deadline) ----

/** One HTTP request with node:http; resolves {status, bytes, head} or {status: null, error} at the deadline. */
function request(url, { method = 'GET', headers = {}, body, localAddress, deadline }) {
  return new Promise((resolve) => {
    const remaining = Math.max(1, deadline - performance.now());
    const req = http.request(url, { method, headers: { ...(body !== undefined && { 'content-length': Buffer.byteLength(body) }), ...headers }, localAddress, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ status: null, error: 'no answer by the deadline' });
    }, remaining);
    req.on('response', (res) => {
      let bytes = 0;
      let head = '';
      res.on('data', (chunk) => {
        bytes += chunk.length;
        if (head.length < 512) head += chunk.toString('utf8', 0, Math.min(chunk.length, 512));
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, bytes, head, retryAfter: res.headers['retry-after'] ?? null });
      });
      res.on('error', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, bytes, head, error: 'answer cut short' });
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: null, error: err.code ?? err.message });
    });
    req.end(body);
  });
}

/**
 * Open an authenticated socket and wait for hello. Resolves {ws, hello} or {refused: label}. Frames
 * after hello go to `onFrames(buf, ws)`.
 */
function openSocket(target, token, { localAddress, deadline, onFrames = () => {}, onClose = () => {} }) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${target.host}:${target.port}${chatterWsPath({ history: 0 })}`, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      skipUTF8Validation: true,
      localAddress,
      handshakeTimeout: Math.max(100, deadline - performance.now()),
    });
    let hello = null;
    let settled = false;
    // An upgrade that is accepted but never followed by hello must not hold the attack past its deadline.
    const timer = setTimeout(() => done({ refused: 'no hello by the deadline' }), Math.max(100, deadline - performance.now()));
    const done = (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (value.refused) ws.terminate();
      resolve(value);
    };
    ws.on('unexpected-response', (_req, res) => {
      let head = '';
      res.on('data', (c) => (head += c.toString().slice(0, 512)));
      res.on('end', () => done({ refused: httpOutcome(res.statusCode, head) }));
      res.on('error', () => done({ refused: `HTTP ${res.statusCode}` }));
    });
    ws.on('error', (err) => {
      if (!hello) done({ refused: `error ${err.code ?? err.message}`.slice(0, 60) });
    });
    ws.on('close', (code) => {
      if (!hello) done({ refused: `close ${code}` });
      else onClose(code);
    });
    ws.on('message', (data) => {
      if (!hello) {
        for (const [s, e] of splitFrames(data)) {
          if (frameType(data, s, e) === 'hello') {
            hello = parseFrame(data, s, e);
            done({ ws, hello });
          } else if (frameType(data, s, e) === 'error') done({ refused: `error ${parseFrame(data, s, e).code}` });
        }
        return;
      }
      onFrames(data, ws);
    });
  });
}

const bump = (counts, label, n = 1) => {
  counts[label] = (counts[label] ?? 0) + n;
};

/** Resolve once `predicate()` holds, the deadline passes or `stopped()`; polls every 20 ms. */
async function until(predicate, { deadline, stopped }) {
  while (!predicate() && performance.now() < deadline && !stopped()) await sleep(20);
}

/**
 * One socket sends `frames` copies of a request without reading, then (after holdMs) reads what
 * comes until the deadline: what a client that never reads does to the server's memory.
 */
async function floodFrames(ctx, makeFrame, answerLabel) {
  const { target, extra, deadline, stopped, params } = ctx;
  const outcomes = {};
  let bytes = 0;
  let closed = null;
  let answered = 0;
  let errors = 0;
  const opened = await openSocket(target, extra.attackers[0].token, {
    localAddress: extra.attackerAddress,
    deadline,
    onFrames: (data) => {
      bytes += data.length;
      for (const [s, e] of splitFrames(data)) {
        const type = frameType(data, s, e);
        // A resume is answered with `events` (protocol 2), a history request with `history`.
        if (type === 'history' || type === 'events' || type === 'resume_gap') {
          answered++;
          bump(outcomes, type === 'resume_gap' ? 'resume_gap' : answerLabel);
        } else if (type === 'error') {
          errors++;
          bump(outcomes, `error ${parseFrame(data, s, e).code}`);
        }
      }
    },
    onClose: (code) => (closed = code),
  });
  if (opened.refused) return { attempted: 0, unit: 'frames', refused: 0, outcomes: { [opened.refused]: 1 }, notes: 'the attacker could not connect' };
  const { ws, hello } = opened;
  const lastSeq = hello.rooms?.find((r) => r.id === 'general')?.lastSeq ?? 0;
  ws.pause(); // read nothing: the replies pile up on the server
  let sent = 0;
  for (let i = 0; i < params.frames && ws.readyState === WebSocket.OPEN; i++, sent++) ws.send(makeFrame(i, { lastSeq, seededLastSeq: extra.seededLastSeq }));
  const holdUntil = Math.min(deadline, performance.now() + params.holdMs);
  await until(() => false, { deadline: holdUntil, stopped });
  ws.resume();
  await until(() => closed !== null, { deadline, stopped });
  if (closed !== null) bump(outcomes, `close ${closed}`);
  ws.terminate();
  // Refused: by an error frame, or by the server closing the socket on what was left. Requests
  // still unanswered on an open socket at the deadline were not refused: the server was stuck.
  const refused = closed === null ? errors : sent - answered;
  const notes = `${num(answered)} answered, ${num(bytes / 2 ** 20, 1)} MB read back${closed === null ? `; ${num(sent - answered - errors)} unanswered on an open socket at the deadline` : ''}`;
  return { attempted: sent, unit: 'frames', refused, outcomes, notes };
}

const ATTACK_RUNNERS = {
  // Nearly the most a resume replays (1,000 events; the normal users' messages keep arriving),
  // almost all of them the large ones; each reply stops at the server's reply byte budget.
  resume: (ctx) => floodFrames(ctx, (_i, { lastSeq }) => JSON.stringify({ type: 'resume', rooms: { general: Math.max(0, lastSeq - 900) } }), 'replay'),

  // The largest page (100 messages) of the large ones.
  history: (ctx) => floodFrames(ctx, (i, { seededLastSeq }) => JSON.stringify({ type: 'history', room: 'general', before: seededLastSeq + 1, limit: 100, ref: `h${i}` }), 'page'),

  async sockets({ target, extra, deadline, stopped, params }) {
    const outcomes = {};
    const sockets = [];
    let sends = 0;
    let answered = 0;
    let firstSend = null;
    let lastAck = null;
    let next = 0;
    let ending = false;
    let socketsRefused = 0;
    const open = async () => {
      while (next < params.sockets && performance.now() < deadline && !stopped()) {
        const i = next++;
        const result = await openSocket(target, extra.attackers[0].token, {
          localAddress: extra.attackerAddress,
          deadline,
          onFrames: (data) => {
            for (const [s, e] of splitFrames(data)) {
              const type = frameType(data, s, e);
              if (type === 'ack') {
                bump(outcomes, 'ack');
                answered++;
                lastAck = performance.now();
              } else if (type === 'error') {
                bump(outcomes, `error ${parseFrame(data, s, e).code}`);
                answered++;
              }
            }
          },
          onClose: (code) => {
            if (ending) return;
            socketsRefused++;
            bump(outcomes, `close ${code}`);
          },
        });
        if (result.refused) {
          socketsRefused++;
          bump(outcomes, result.refused);
          continue;
        }
        bump(outcomes, 'opened');
        sockets.push(result.ws);
        firstSend ??= performance.now();
        for (let k = 0; k < params.perSocket; k++, sends++) result.ws.send(JSON.stringify({ type: 'send', room: 'general', clientId: `abuse_${extra.stamp}_${i}_${k}`, text: `spam ${i}.${k}` }));
      }
    };
    await Promise.all(Array.from({ length: 50 }, open));
    await until(() => answered >= sends || sockets.every((ws) => ws.readyState !== WebSocket.OPEN), { deadline, stopped });
    ending = true;
    for (const ws of sockets) ws.terminate();
    const stored = outcomes.ack ?? 0;
    const storeMs = firstSend !== null && lastAck !== null ? lastAck - firstSend : null;
    const notes = `${num(stored)} of ${num(sends)} messages stored${storeMs !== null ? ` in ${num(storeMs)} ms` : ''}, against a documented 10/s`;
    return { attempted: params.sockets, unit: 'sockets', refused: socketsRefused, outcomes, notes };
  },

  async bodies({ target, extra, deadline, params }) {
    const body = oversizedLoginBody(params.bytes);
    const outcomes = {};
    let maxAnswer = 0;
    let next = 0;
    const worker = async () => {
      while (next < params.requests && performance.now() < deadline) {
        next++;
        const r = await request(`${target.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, localAddress: extra.attackerAddress, deadline });
        bump(outcomes, r.status === null ? r.error : httpOutcome(r.status, r.head));
        maxAnswer = Math.max(maxAnswer, r.bytes ?? 0);
      }
    };
    await Promise.all(Array.from({ length: params.concurrency }, worker));
    const notes = `${num(body.length / 1e6, 1)} MB each; largest answer ${num(maxAnswer / 1024, 0)} KB${next < params.requests ? `; ${num(params.requests - next)} not sent by the deadline` : ''}`;
    return { attempted: next, unit: 'requests', refused: refusedHttp(outcomes), outcomes, notes };
  },

  async avatars({ target, extra, deadline, params }) {
    const gif = readFileSync(extra.gifFile);
    const outcomes = {};
    const answers = await Promise.all(
      extra.attackers.slice(0, params.uploads).map((u) =>
        request(`${target.url}/api/me/avatar`, { method: 'PUT', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'image/gif' }, body: gif, localAddress: extra.attackerAddress, deadline }),
      ),
    );
    for (const r of answers) bump(outcomes, r.status === null ? r.error : httpOutcome(r.status, r.head));
    return { attempted: params.uploads, unit: 'uploads', refused: refusedHttp(outcomes), outcomes, notes: `${num(gif.length / 1024)} KB each, from ${params.uploads} accounts` };
  },

  async registrations({ target, extra, deadline, params }) {
    const outcomes = {};
    const answers = await Promise.all(
      Array.from({ length: params.requests }, (_, i) =>
        request(`${target.url}/api/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: `anon_${extra.stamp}_${i}`, password: BENCH_PASSWORD }),
          localAddress: extra.attackerAddress,
          deadline,
        }),
      ),
    );
    for (const r of answers) bump(outcomes, r.status === null ? r.error : httpOutcome(r.status, r.head));
    return { attempted: params.requests, unit: 'requests', refused: refusedHttp(outcomes), outcomes, notes: 'at bcrypt cost 12, the default' };
  },
};

// The worker thread: says it is loaded, runs its attack on "go", and posts the result.
if (!isMainThread && workerData?.abuseAttack) {
  let stop = false;
  const { attack, target, extra, params, budgetMs } = workerData.abuseAttack;
  parentPort.on('message', (m) => {
    if (m === 'stop') stop = true;
    if (m !== 'go') return;
    const started = performance.now();
    const ctx = { target, extra, params, deadline: started + budgetMs, stopped: () => stop };
    ATTACK_RUNNERS[attack](ctx)
      .then((result) => parentPort.postMessage({ result: { ...result, ms: performance.now() - started, stoppedEarly: stop } }))
      .catch((err) => parentPort.postMessage({ error: String(err?.stack ?? err) }));
  });
  parentPort.postMessage({ ready: true });
}

const failed = (notes) => ({ attempted: null, refused: null, outcomes: {}, notes });

/**
 * Load an attack in a worker thread, so that loading it (a few hundred ms of CPU on the generator's
 * core) is over before anything is measured. Resolves {go, stop}: `go()` starts the attack and
 * resolves its result, or a note if the worker failed or had to be terminated.
 */
async function loadAttack(spec) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { abuseAttack: spec } });
  let settle;
  const outcome = new Promise((resolve) => (settle = resolve));
  worker.on('message', (m) => {
    if (m.ready) return settle({ ready: true });
    settle(m.result ?? failed(`attack failed: ${String(m.error).slice(0, 300)}`));
  });
  worker.once('error', (err) => settle(failed(`attack failed: ${String(err.message).slice(0, 300)}`)));
  const ready = await Promise.race([outcome, sleep(15000).then(() => failed('the attack did not load within 15 s'))]);
  if (!ready.ready) {
    void worker.terminate();
    return { go: async () => ready, stop: () => {}, terminate: () => {} };
  }
  const result = new Promise((resolve) => (settle = resolve));
  return {
    async go() {
      worker.postMessage('go');
      const hardStop = sleep(spec.budgetMs + 5000).then(() => failed('the attack did not finish and was terminated'));
      const r = await Promise.race([result, hardStop]);
      void worker.terminate();
      return r;
    },
    stop: () => worker.postMessage('stop'),
    terminate: () => void worker.terminate(),
  };
}

/** A normal sign-in over its own connection; ms, or null with the reason when refused or late. */
async function timedLogin(target, user, localAddress, deadline) {
  const t0 = performance.now();
  const r = await request(`${target.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.username, password: BENCH_PASSWORD, session: 'token' }),
    localAddress,
    deadline,
  });
  return { ms: performance.now() - t0, status: r.status, outcome: r.status === null ? r.error : httpOutcome(r.status, r.head) };
}

/** Samples the server's VmRSS every `everyMs`; `peak()` is the highest sample since the last `reset()`. */
function rssSampler(pid, everyMs = 20) {
  let max = 0;
  let last = null;
  const timer = setInterval(() => {
    last = readMemoryKiB(pid)?.rss ?? null;
    if (last !== null && last > max) max = last;
  }, everyMs);
  return {
    reset() {
      max = readMemoryKiB(pid)?.rss ?? 0;
    },
    peak: () => max,
    last: () => last,
    stop: () => clearInterval(timer),
  };
}

/** Reset the kernel's peak-RSS counter of `pid` (VmHWM) to its current RSS; false when not allowed. */
function resetHighWaterMark(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export default {
  id: 'abuse',
  title: 'Abuse: the denial-of-service reproductions of issue 9',
  targets: ['chatter'],

  plan({ quick }) {
    const common = {
      rate: 30, // messages/s from the normal users together: 6/s each, under the default 10/s
      warmupMs: 500,
      // 2 s windows, in 3 rounds: the suite's 15 minutes cannot hold 3 rounds of longer ones.
      baselineMs: 2000,
      minWindowMs: 2000,
      budgetMs: quick ? 6000 : 7000,
      drainMs: 1000,
      holdMs: 1500,
    };
    return {
      // Three rounds: an attack's p99 ratio is a ratio of two tails of a few hundred samples each,
      // and one round's can land anywhere in 1-5× on a 2-core machine.
      rounds: quick ? 1 : 3,
      chatterDataDir: 'own',
      bcryptCost: 12,
      // The server's own limits: every limit the bench raises is put back (an empty variable means
      // the default).
      targetEnv: () => Object.fromEntries(Object.keys(RAISED_LIMITS).map((name) => [name, ''])),
      steps: ATTACKS.map((a) => ({ key: a.key, params: { attack: a.key, ...common, ...a.params } })),
    };
  },

  async prepare({ workDir, serverCpu, startTarget, say }) {
    const base = join(workDir, 'chatter-abuse');
    const server = await startTarget('chatter', { cpu: serverCpu, dataDir: base, bcryptCost: 12, env: { CHATTER_SQLITE_SYNC: 'normal' } });
    let users;
    try {
      users = await registerUsers(server.url, NORMAL_USERS + ATTACKER_USERS, { prefix: 'abuse_u', concurrency: 4 });
    } finally {
      await server.stop();
    }
    say('abuse: seeding 1,000 messages of 24 KB (in JSON) each');
    // Imported here: the attack's worker thread loads this module too, and needs no native addon.
    const { seedMessages } = await import('./history.mjs');
    const seeded = seedMessages(join(base, 'chatter.db'), { count: 1000, authorIds: [users[NORMAL_USERS].id], textOf: () => controlText() });
    // Each run of an attack gets a fresh copy, made as it starts: none sees what an earlier one
    // (another attack, or a round before) left behind.
    const { default: sharp } = await import('sharp');
    const side = ATTACKS.find((a) => a.key === 'avatars').params.side;
    const gifFile = join(workDir, 'abuse.gif');
    mkdirSync(workDir, { recursive: true });
    writeFileSync(gifFile, await sharp({ create: { width: side, height: side, channels: 3, background: { r: 20, g: 120, b: 220 } } }).gif().toBuffer());
    const tokensFile = join(workDir, 'abuse-tokens.json');
    writeFileSync(tokensFile, JSON.stringify(users));
    return {
      dataDirFor: (key, round) => {
        const dir = join(workDir, `chatter-abuse-${key}-${round}`);
        cpSync(base, dir, { recursive: true });
        return dir;
      },
      tokensFile,
      extra: { gifFile, attackerAddress: '127.0.66.66', stamp: Date.now().toString(36), seededLastSeq: seeded.lastSeq },
      info: { users: users.length },
    };
  },

  summaryLine(r) {
    const p99 = (h) => ms(Histogram.fromJSON(h).percentile(99));
    return `peak RSS ${num(r.peakRssKiB / 1024)} MB; normal p99 ${p99(r.baseline.latency)} -> ${p99(r.during.latency)} ms; attacker: ${countsText(r.attacker.outcomes)}`;
  },

  async load(p, { target, tokens, extra, log }) {
    const normalUsers = tokens.slice(0, NORMAL_USERS);
    const attackers = tokens.slice(NORMAL_USERS);
    const clients = normalUsers.map((u, index) => new BenchClient(target, { index, token: u.token }));
    const connected = await connectAll(clients, { deadlineMs: 15000 });
    if (connected.ok !== clients.length) throw new Error(`normal clients could not connect: ${JSON.stringify(connected.errors)}`);
    log('normal clients connected');

    // Every message is expected once at every normal client; its latency is recorded in the phase
    // it was sent in, and what never arrives is counted at the drain's end, so a stall cannot hide.
    const phases = { baseline: new Histogram(), attack: new Histogram() };
    const sentPhase = new Map();
    const received = new Map();
    let phase = 'warmup';
    for (const c of clients) {
      c.onDelivery = (msgNo, sentMicros, client) => {
        const h = phases[sentPhase.get(msgNo)];
        received.set(msgNo, (received.get(msgNo) ?? 0) + 1);
        h?.record(client.receivedMicros - sentMicros);
      };
    }
    const sentAt = new Map();
    const senders = startSenders(clients, { rate: p.rate, onSend: (msgNo) => (sentPhase.set(msgNo, phase), sentAt.set(msgNo, nowMicros())) });
    const rss = rssSampler(target.pid);
    const loginAddress = clients[0].localAddress;
    let attack = null;
    try {
      attack = await loadAttack({ attack: p.attack, target, params: p, extra: { ...extra, attackers }, budgetMs: p.budgetMs });
      await sleep(p.warmupMs);
      phase = 'baseline';
      const loginBefore = await timedLogin(target, normalUsers[0], loginAddress, performance.now() + 15000);
      await sleep(p.baselineMs);
      const rssBeforeKiB = readMemoryKiB(target.pid)?.rss ?? null;

      phase = 'attack';
      const hwmReset = resetHighWaterMark(target.pid);
      rss.reset();
      const attackStart = performance.now();
      const attackResult = attack.go();
      let abortedAtKiB = null;
      const guard = setInterval(() => {
        if (rss.peak() > ABORT_RSS_MIB * 1024 && abortedAtKiB === null) {
          abortedAtKiB = rss.peak();
          attack.stop();
        }
      }, 50);
      const loginDuring = sleep(200).then(() => timedLogin(target, normalUsers[1], clients[1].localAddress, attackStart + p.budgetMs + 2000));
      const attacker = await attackResult;
      const windowLeft = attackStart + p.minWindowMs - performance.now();
      if (windowLeft > 0) await sleep(windowLeft);
      clearInterval(guard);
      const attackMs = performance.now() - attackStart;
      phase = 'after';
      const hwm = hwmReset ? readMemoryKiB(target.pid)?.hwm ?? null : null;
      const peakRssKiB = peakKiB([rss.peak()], hwm);
      const signIn = { before: loginBefore, during: await loginDuring };

      // Drain: the attack phase's messages may still be on their way.
      senders.stop();
      const expected = (which) => [...sentPhase].filter(([, ph]) => ph === which).map(([n]) => n);
      const missing = (which) => expected(which).reduce((sum, n) => sum + Math.max(0, clients.length - (received.get(n) ?? 0)), 0);
      const drainEnd = performance.now() + p.drainMs;
      while (missing('attack') + missing('baseline') > 0 && performance.now() < drainEnd) await sleep(20);
      const undelivered = {};
      const now = nowMicros();
      for (const which of ['baseline', 'attack']) {
        undelivered[which] = missing(which);
        // What never came counts as late as the drain's end: a lower bound on its latency.
        for (const n of expected(which)) for (let k = received.get(n) ?? 0; k < clients.length; k++) phases[which].record(now - sentAt.get(n));
      }
      return {
        attack: p.attack,
        rssBeforeKiB,
        peakRssKiB,
        hwmReset,
        abortedAtKiB,
        serverAlive: readMemoryKiB(target.pid) !== null,
        attackMs,
        attacker,
        signIn,
        normalErrors: countsMerge(clients.map((c) => c.errors)),
        normalCloses: clients.flatMap((c) => c.closes),
        baseline: { latency: phases.baseline.toJSON(), undelivered: undelivered.baseline },
        during: { latency: phases.attack.toJSON(), undelivered: undelivered.attack },
      };
    } finally {
      attack?.terminate();
      senders.stop();
      rss.stop();
      for (const c of clients) c.close();
    }
  },

  report(runs) {
    const ok = runs.filter((r) => r.result);
    const rows = [];
    const verdicts = [];
    let roundCount = 0;
    for (const a of ATTACKS) {
      // Each round of an attack against its own fresh server; figures are medians over the rounds
      // with min-max, except the peak RSS, which is the highest of any round (a bound holds always).
      const rounds = ok
        .filter((r) => (r.result.attack ?? r.step) === a.key)
        .map((run) => {
          const r = run.result;
          const before = Histogram.fromJSON(r.baseline.latency).percentile(99);
          const during = Histogram.fromJSON(r.during.latency).percentile(99);
          return { r, before, during, ratio: judge({ peakRssKiB: r.peakRssKiB, baselineP99: before, attackP99: during }).ratio };
        });
      if (rounds.length === 0) continue;
      roundCount = Math.max(roundCount, rounds.length);
      const ratios = spread(rounds.map((x) => x.ratio));
      const before = spread(rounds.map((x) => x.before));
      const during = spread(rounds.map((x) => x.during));
      const peaks = rounds.map((x) => x.r.peakRssKiB).filter((v) => v !== null && v !== undefined);
      const peakKiB = peaks.length === rounds.length ? Math.max(...peaks) : null;
      const aborted = rounds.some((x) => x.r.abortedAtKiB);
      const j = judge({ peakRssKiB: peakKiB, baselineP99: before.median, attackP99: during.median });
      const p99Met = ratios.median === null ? null : ratios.median <= P99_RATIO_BOUND;
      // The words and sign-ins of the round whose ratio is the median (the upper middle one of an even count).
      const typical = [...rounds].sort((x, y) => (x.ratio ?? 0) - (y.ratio ?? 0))[rounds.length >> 1];
      const r = typical.r;
      const peak = peakKiB === null ? '–' : `${aborted ? '≥ ' : ''}${num(peakKiB / 1024)}`;
      const died = rounds.filter((x) => !x.r.serverAlive).length;
      const got = `${num(r.attacker.refused)} of ${num(r.attacker.attempted)} ${r.attacker.unit ?? ''} refused (${countsText(r.attacker.outcomes)})${r.attacker.notes ? `; ${r.attacker.notes}` : ''}${aborted ? `; stopped early: server RSS passed ${num(ABORT_RSS_MIB)} MB` : ''}${died ? `; **the server died** in ${died} of ${rounds.length} round(s)` : ''}`;
      const signIn = (s) => (s?.status === 200 ? ms(s.ms * 1000, 0) : s ? `${s.outcome} after ${ms(s.ms * 1000, 0)}` : '–');
      const range = (x, f) => (x.n > 1 ? ` (${f(x.min)}–${f(x.max)})` : '');
      const ratioText = ratios.median === null ? '–' : `${num(ratios.median, 1)}×${range(ratios, (v) => num(v, 1))}`;
      rows.push([
        a.title,
        got,
        `${num((r.rssBeforeKiB ?? NaN) / 1024)} → ${peak}`,
        `${ms(before.median)}${range(before, ms)} → ${ms(during.median)}${range(during, ms)}`,
        ratioText,
        `${signIn(r.signIn.before)} → ${signIn(r.signIn.during)}`,
        num(Math.max(...rounds.map((x) => x.r.during.undelivered))),
      ]);
      verdicts.push(
        { target: `${a.title}: server peak RSS ≤ ${RSS_BOUND_MIB} MB`, measured: `${peak} MB${rounds.length > 1 ? ` (highest of ${rounds.length} rounds)` : ''}`, met: j.rssMet },
        { target: `${a.title}: other clients' p99 ≤ ${P99_RATIO_BOUND}× normal`, measured: `${ms(during.median)} ms vs ${ms(before.median)} ms before (${ratioText}${rounds.length > 1 ? `, median of ${rounds.length} rounds` : ''})`, met: p99Met },
      );
    }
    const p = ok[0]?.params ?? {};
    const lines = [
      `Chatter only, with its default limits. Each reproduction of issue 9's "Done when" runs against a fresh server (a copy of one database holding 1,000 messages of 4,000 control characters, 24 KB each in JSON), while ${NORMAL_USERS} normal users chat in \`general\` at ${num(p.rate)} messages/s in all; one of them signs in (bcrypt cost 12) before the attack and another during it. Their round trip (send to receipt, at each of them) is measured for ${num(p.baselineMs / 1000, 1)} s before the attack and from its start until it ends (at least ${num(p.minWindowMs / 1000, 1)} s, at most ${num(p.budgetMs / 1000, 1)} s); a message that never arrives counts as late as the end of a ${num(p.drainMs / 1000, 1)} s drain. The attacker runs in its own thread of the load generator, from its own address. Peak RSS is the highest of VmRSS sampled every 20 ms and VmHWM (reset when the attack starts).`,
      '',
      `The bound: **peak RSS ≤ ${RSS_BOUND_MIB} MB** under any one reproduction (an idle server holds about 120 MB; the largest single allowance the server's limits make is image decoding, at most 192 MB at the defaults; the rest is room for send buffers, bodies and the JavaScript heap), and **other clients' p99 ≤ ${P99_RATIO_BOUND}×** their p99 just before. An attack is stopped if the server passes ${num(ABORT_RSS_MIB)} MB (the peak is then "at least").`,
      '',
      `${roundCount > 1 ? `Each attack ran ${roundCount} times in a row, each time against a fresh server on a fresh copy of the database. The p99s and their ratio are medians over the rounds, with min-max; the ratio's verdict is on its median. The peak RSS is the highest of any round; the attacker's results and the sign-ins are those of the median round; "undelivered" is the most of any round.` : 'One round.'}`,
      '',
      table(['Attack', 'What the attacker got', 'Server RSS before → peak (MB)', 'Normal p99 before → during (ms)', 'p99 ratio', 'Normal sign-in before → during (ms)', 'Undelivered during'], rows),
    ];
    lines.push('', verdictTable(verdicts, 'issue 9'));
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};
