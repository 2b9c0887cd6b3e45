// History on a large database (Chatter only): the room `general` holds N messages, written directly
// with better-sqlite3 in one transaction after the server has migrated the file, as the server's
// own write path writes them (message, event, room; see `seedMessages`). Measures a
// 50-message page at the newest end and deep in the past, over REST and over the WebSocket
// `history` frame, one request at a time.
import Database from 'better-sqlite3';
import { statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { registerUsers } from '../lib/chatter-setup.mjs';
import { readMemoryKiB } from '../lib/proc.mjs';
import { Histogram } from '../lib/stats.mjs';
import { BenchClient } from '../load/clients.mjs';
import { ms, num, table, verdictTable } from '../report/format.mjs';

/**
 * GET a JSON body over one kept-alive connection with node:http. Not `fetch`: undici's per-request
 * machinery adds about 2 ms to the p99 of even an empty handler on this machine (measured against a
 * bare node:http server), which would be charged to the server under test.
 */
function makeGetJson() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return (url, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = http.get(url, { agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString()) });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
    });
}

const REQUIRED_COLUMNS = {
  messages: ['room_id', 'seq', 'author_id', 'client_id', 'text', 'created_at', 'version', 'edited_at', 'deleted_at'],
  events: ['room_id', 'seq', 'kind', 'actor_id', 'client_id', 'created_at', 'message_id', 'user_id', 'data'],
  rooms: ['last_seq', 'last_activity_at'],
};

/**
 * Write `count` messages into room `general` of a migrated Chatter database, in one transaction,
 * with better-sqlite3: the rows the server's own write path (`ChangeWriter.apply`, a
 * `message_created` change, packages/server/src/storage/sqlite/changes.ts) writes for each, and
 * nothing less: the message (its version is its seq), its event in the room's log, the room's
 * `last_seq` and `last_activity_at`. Mentions are left out because the seeded texts mention nobody.
 * Not through `applyChanges` (the testing helper `storeMessages`): that path also runs the
 * per-change checks (membership, idempotency lookups) and returns each stored record, 30-90 s for
 * a million messages on this machine, against a few seconds here; what is measured afterwards
 * reads the same tables either way. `textOf(i)` gives message i's text (default: a few words).
 */
export function seedMessages(dbFile, { count, authorIds, textOf }) {
  const db = new Database(dbFile);
  try {
    // Set-up, not measurement, and the server is stopped: the seed writes each page once, straight
    // into the file (a rollback journal in memory, not a WAL that a checkpoint copies again), keeps
    // the indexes it grows in a cache large enough to hold them, and skips the foreign-key look-ups
    // of two million rows (the room and every author are checked below). On this machine that made
    // a million messages 4x faster (123.6 s -> 30.3 s, on a busy machine); the file is the same.
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    db.pragma('foreign_keys = OFF');
    db.pragma('cache_size = -262144');
    for (const [table, wanted] of Object.entries(REQUIRED_COLUMNS)) {
      const columns = db.prepare(`PRAGMA table_info(${table})`).all().map((c) => c.name);
      const missing = wanted.filter((c) => !columns.includes(c));
      if (missing.length) throw new Error(`the ${table} table lacks ${missing.join(', ')}: update seedMessages in bench/scenarios/history.mjs to the new schema`);
    }
    const room = db.prepare("SELECT last_seq FROM rooms WHERE id = 'general'").get();
    if (!room) throw new Error('room general does not exist after the server started');
    const member = db.prepare("SELECT 1 FROM members WHERE room_id = 'general' AND user_id = ?").pluck();
    for (const id of new Set(authorIds)) if (member.get(id) === undefined) throw new Error(`seed author ${id} is not a member of general`);
    const insertMessage = db
      .prepare('INSERT INTO messages (room_id, seq, author_id, client_id, text, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id')
      .pluck();
    const insertEvent = db.prepare(
      "INSERT INTO events (room_id, seq, kind, actor_id, client_id, created_at, message_id, user_id, data) VALUES (?, ?, 'message_created', ?, ?, ?, ?, NULL, '{}')",
    );
    const words = ['hello', 'there', 'how', 'is', 'the', 'deploy', 'going', 'lunch', 'at', 'noon', 'see', 'you', 'in', 'five', 'minutes', 'ok'];
    const base = room.last_seq;
    const t0 = Date.now() - count * 1000;
    db.transaction(() => {
      for (let i = 1; i <= count; i++) {
        let text = textOf?.(i);
        if (text === undefined) {
          const len = 3 + (i % 17);
          text = `#${i}`;
          for (let k = 0; k < len; k++) text += ' ' + words[(i * 7 + k * 3) % words.length];
        }
        const seq = base + i;
        const author = authorIds[i % authorIds.length];
        const clientId = `seed-${seq}`;
        const at = t0 + i * 1000;
        const id = insertMessage.get('general', seq, author, clientId, text, at, seq);
        insertEvent.run('general', seq, author, clientId, at, id);
      }
      db.prepare("UPDATE rooms SET last_seq = ?, last_activity_at = max(last_activity_at, ?) WHERE id = 'general'").run(base + count, t0 + count * 1000);
    })();
    // Back to the server's journal mode, so it opens the file as it left it.
    db.pragma('journal_mode = WAL');
    return { firstSeq: base + 1, lastSeq: base + count };
  } finally {
    db.close();
  }
}

export default {
  id: 'history',
  title: 'History on a large database',
  targets: ['chatter'],

  plan({ quick }) {
    const messages = quick ? 100_000 : 1_000_000;
    return {
      rounds: 1,
      chatterDataDir: 'own',
      messages,
      steps: [{ key: String(messages), params: { messages, requests: quick ? 200 : 1000, warmup: quick ? 50 : 500, pageSize: 50 } }],
    };
  },

  async prepare({ workDir, quick, serverCpu, startTarget, say }) {
    const messages = this.plan({ quick }).messages;
    const dataDir = join(workDir, 'chatter-history');
    const server = await startTarget('chatter', { cpu: serverCpu, dataDir, bcryptCost: 4, env: { CHATTER_SQLITE_SYNC: 'normal' } });
    let users;
    try {
      users = await registerUsers(server.url, 20, { prefix: 'hist_u' });
    } finally {
      await server.stop();
    }
    say(`seeding ${num(messages)} messages`);
    const t0 = performance.now();
    const dbFile = join(dataDir, 'chatter.db');
    const seeded = seedMessages(dbFile, { count: messages, authorIds: users.map((u) => u.id) });
    const seedMs = performance.now() - t0;
    say(`seeded in ${(seedMs / 1000).toFixed(1)} s`);
    const tokensFile = join(workDir, 'history-tokens.json');
    writeFileSync(tokensFile, JSON.stringify(users));
    return { dataDir, tokensFile, extra: seeded, info: { messages, seedMs, dbBytes: statSync(dbFile).size } };
  },

  summaryLine(r) {
    const p = (k) => ms(Histogram.fromJSON(r[k]).percentile(99), 2);
    return `p99 newest ${p('restNewest')} ms, deep ${p('restDeep')} ms (REST); ${p('wsNewest')} / ${p('wsDeep')} ms (WS)`;
  },

  async load(p, { target, tokens, extra }) {
    const token = tokens[0].token;
    const { firstSeq, lastSeq } = extra;
    // Deep: somewhere in the oldest tenth of the log, a different place each time.
    let rng = 12345;
    const deepCursor = () => {
      rng = (rng * 1103515245 + 12345) % 2 ** 31;
      return firstSeq + 100 + (rng % Math.max(1, Math.floor((lastSeq - firstSeq) / 10)));
    };
    const getJson = makeGetJson();
    const restPage = async (before) => {
      const q = before === undefined ? `limit=${p.pageSize}` : `before=${before}&limit=${p.pageSize}`;
      const t0 = performance.now();
      const { status, body } = await getJson(`${target.url}/api/rooms/general/messages?${q}`, { authorization: `Bearer ${token}` });
      const micros = (performance.now() - t0) * 1000;
      if (status !== 200 || body.messages?.length !== p.pageSize) throw new Error(`history page: HTTP ${status}, ${body.messages?.length} messages: ${JSON.stringify(body).slice(0, 200)}`);
      return micros;
    };
    const measure = async (fn, cursor) => {
      const h = new Histogram();
      for (let i = 0; i < p.warmup; i++) await fn(cursor());
      for (let i = 0; i < p.requests; i++) h.record(await fn(cursor()));
      return h.toJSON();
    };
    // Baseline: the cheapest authenticated-less round trip, to tell HTTP cost from history cost.
    const health = async () => {
      const t0 = performance.now();
      const { status } = await getJson(`${target.url}/api/health`);
      if (status !== 200) throw new Error(`health: HTTP ${status}`);
      return (performance.now() - t0) * 1000;
    };
    const restHealth = await measure(health, () => undefined);
    const restNewest = await measure(restPage, () => undefined);
    const restDeep = await measure(restPage, deepCursor);

    const client = new BenchClient(target, { index: 0, token });
    await client.connect();
    let ref = 0;
    const wsPage = (before) =>
      new Promise((resolve, reject) => {
        const myRef = `h${++ref}`;
        const t0 = performance.now();
        client.onControl = (frame) => {
          if (frame.ref !== myRef) return;
          if (frame.type === 'error') return reject(new Error(`history frame error ${frame.code}: ${frame.message}`));
          if (frame.messages.length !== p.pageSize) return reject(new Error(`history frame with ${frame.messages.length} messages`));
          resolve((performance.now() - t0) * 1000);
        };
        const req = { type: 'history', room: 'general', limit: p.pageSize, ref: myRef };
        if (before !== undefined) req.before = before;
        client.ws.send(JSON.stringify(req));
      });
    const wsNewest = await measure(wsPage, () => undefined);
    const wsDeep = await measure(wsPage, deepCursor);
    client.close();
    return { messages: p.messages, requests: p.requests, restHealth, restNewest, restDeep, wsNewest, wsDeep, rssKiB: readMemoryKiB(target.pid)?.rss ?? null };
  },

  report(runs, { prepared }) {
    const r = runs.find((x) => x.result)?.result;
    if (!r) return { markdown: 'No successful run.', charts: [], verdicts: [] };
    const s = (k) => Histogram.fromJSON(r[k]).summary();
    const rows = [
      ...(r.restHealth ? [['REST `GET /api/health` (HTTP baseline, no database)', s('restHealth')]] : []),
      ['REST, newest page', s('restNewest')],
      ['REST, deep in the past', s('restDeep')],
      ['WebSocket `history` frame, newest page', s('wsNewest')],
      ['WebSocket `history` frame, deep', s('wsDeep')],
    ].map(([name, x]) => [name, ms(x.p50, 2), ms(x.p95, 2), ms(x.p99, 2), ms(x.max, 2)]);
    const lines = [
      `Chatter only (the peers store nothing). Room \`general\` holds ${num(r.messages)} messages (seeded with better-sqlite3 in one transaction, each as the rows the server writes for a new message: the message, its \`message_created\` event, the room's seq; in ${prepared ? num(prepared.seedMs / 1000, 1) : '?'} s; database ${prepared ? num(prepared.dbBytes / 2 ** 20) : '?'} MB). ${num(r.requests)} sequential requests per row for a ${runs[0].params.pageSize}-message page, after ${runs[0].params.warmup} warm-up requests; "deep" pages start at a random point in the oldest tenth of the log. Times are client-side (request to parsed response) over one kept-alive \`node:http\` connection, so they include the generator's HTTP client and the machine's wake-up latency (the health row shows both).`,
      '',
      table(['Request', 'p50 (ms)', 'p95 (ms)', 'p99 (ms)', 'max (ms)'], rows),
    ];
    const worst = Math.max(s('restNewest').p99, s('restDeep').p99);
    const verdicts = [
      {
        target: `History page p99 < 5 ms on ${num(r.messages)} messages (REST, newest and deep)`,
        measured: `newest ${ms(s('restNewest').p99, 2)} ms, deep ${ms(s('restDeep').p99, 2)} ms`,
        met: r.messages >= 1_000_000 ? worst < 5000 : worst < 5000 ? null : false,
      },
    ];
    if (r.messages < 1_000_000) verdicts[0].measured += ` (only ${num(r.messages)} messages in quick mode)`;
    lines.push('', verdictTable(verdicts));
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};
