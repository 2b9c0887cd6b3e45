import { DEFAULT_ROOM, LIMITS, PROTOCOL_VERSION, type Message } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VERSION } from '../src/app.js';
import type { Outcome } from '../src/conversations/actions.js';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call, expectError } from './http-helpers.js';
import { uniqueName } from './wsclient.js';

/* The HTTP surface outside accounts: health, OpenAPI docs, unknown routes, rooms and history over REST. */

/**
 * Every route as `METHOD /path` (OpenAPI `{param}` style), read from Fastify's own route tree so
 * a route added later is checked without editing this test.
 */
function registeredRoutes(tree: string): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (depth > 0 ? stack[depth - 1]! : '') + m[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      if (method !== 'HEAD') routes.push(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes;
}

describe('HTTP', () => {
  let server: TestServer;
  let url: string;
  let alice: TestUser;
  let bob: TestUser;
  /** What was stored, by seq (1-based). */
  const seeded: Outcome[] = [];
  const TOTAL = 25;

  const get = (path: string, init?: { token?: string; cookie?: string }) => call(url, 'GET', path, init);
  const history = (query: string) => get(`/api/rooms/${DEFAULT_ROOM}/messages${query}`, { token: alice.token });
  const seqs = (messages: Message[]) => messages.map((m) => m.seq);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  /**
   * The seq before the first seeded message: general's log starts with the two registrations'
   * `member_joined` events. `r(a, b)` are the seqs of seeded messages a..b, `q(n)` message n's seq.
   */
  const B = 2;
  const q = (n: number) => B + n;
  const r = (from: number, to: number) => range(q(from), q(to));

  async function send(author: TestUser, clientId: string, text: string): Promise<Outcome> {
    return server.app.conversations.send({ id: author.user.id, username: author.username, avatarUrl: null }, DEFAULT_ROOM, clientId, text);
  }

  // A built web app of our own, so the shell fallback is tested whether or not packages/web is built.
  const webDir = mkdtempSync(join(tmpdir(), 'chatter-web-'));
  const SHELL = '<!doctype html><title>Chatter test shell</title>';

  before(async () => {
    writeFileSync(join(webDir, 'index.html'), SHELL);
    server = await startTestServer({ webDir });
    url = server.url;
    alice = await server.register(uniqueName('Alice'));
    bob = await server.register(uniqueName('Bob'));
    // Queued in one turn, so they commit as one batch in call order: message i gets seq i.
    const acks = await Promise.all(
      range(1, TOTAL).map((i) => send(i % 2 ? alice : bob, `seed-${i}`, i === TOTAL ? `   message ${i}  ` : `message ${i}`)),
    );
    seeded.push(...acks);
  });
  after(async () => {
    await server.close();
    rmSync(webDir, { recursive: true, force: true });
  });

  describe('meta', () => {
    test('GET /api/health: status, version, protocol, uptime; no sign-in needed', async () => {
      const res = await get('/api/health');
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body).sort(), ['protocol', 'status', 'uptimeSeconds', 'version']);
      assert.equal(res.body.status, 'ok');
      assert.equal(res.body.version, VERSION);
      assert.equal(res.body.protocol, PROTOCOL_VERSION);
      assert.equal(typeof res.body.uptimeSeconds, 'number');
      assert.ok(res.body.uptimeSeconds >= 0);
      const head = await call(url, 'HEAD', '/api/health');
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
    });

    test('GET /docs serves the OpenAPI UI', async () => {
      const res = await get('/docs');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.match(res.text, /swagger/i);
    });

    test('GET /docs/json documents every /api route with its method, and nothing that does not exist', async () => {
      const res = await get('/docs/json');
      assert.equal(res.status, 200);
      const doc = res.body;
      assert.match(doc.openapi, /^3\./);
      assert.equal(doc.info.version, VERSION);

      const actual = registeredRoutes(server.app.printRoutes({ commonPrefix: false })).filter((r) => r.split(' ')[1]!.startsWith('/api/'));
      // Guards the tree parsing: the routes every client relies on must be among them.
      for (const known of [
        'GET /api/health',
        'POST /api/register',
        'POST /api/login',
        'POST /api/logout',
        'GET /api/me',
        'PUT /api/me/password',
        'GET /api/rooms',
        'GET /api/rooms/{id}/messages',
      ]) {
        assert.ok(actual.includes(known), `${known} not in ${actual.join(', ')}`);
      }

      const documented: string[] = [];
      for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, { responses?: object }>>)) {
        for (const [method, operation] of Object.entries(operations)) {
          if (method === 'head' || method === 'parameters') continue;
          documented.push(`${method.toUpperCase()} ${path}`);
          assert.ok(operation.responses && Object.keys(operation.responses).length > 0, `${method} ${path} documents its responses`);
        }
      }
      assert.deepEqual([...documented].filter((r) => r.split(' ')[1]!.startsWith('/api/')).sort(), [...actual].sort());
    });

    test('an unknown /api route is a JSON 404 not_found, and the query string is not echoed', async () => {
      for (const [method, path] of [
        ['GET', '/api/nope'],
        ['GET', '/api'],
        ['PUT', '/api/rooms'],
        ['DELETE', '/api/health'],
        ['GET', '/api/rooms/general/messages/extra'],
      ] as const) {
        const error = expectError(await call(url, method, path), 404, 'not_found');
        assert.match(error.message, new RegExp(`${method} ${path.replace(/\//g, '\\/')}`));
      }
      const error = expectError(await get('/api/nope?token=super-secret-value'), 404, 'not_found');
      assert.doesNotMatch(error.message, /super-secret-value/);
    });

    test('the web app: its shell for browser navigation, JSON 404s for everything else', async () => {
      const html = { accept: 'text/html,application/xhtml+xml' };
      for (const path of ['/', '/rooms/general', '/login?next=%2F']) {
        const res = await fetch(`${url}${path}`, { headers: html });
        assert.equal(res.status, 200, path);
        assert.match(res.headers.get('content-type') ?? '', /text\/html/);
        assert.equal(await res.text(), SHELL);
      }
      for (const [method, path, headers] of [
        ['GET', '/api/nope', html],
        ['GET', '/nope', { accept: 'application/json' }],
        ['POST', '/nope', html],
      ] as const) {
        const res = await fetch(`${url}${path}`, { method, headers });
        const body = await res.text();
        expectError({ status: res.status, headers: res.headers, text: body, body: JSON.parse(body) }, 404, 'not_found');
      }
    });

    test('a body over the 16 KiB limit -> 413 payload_too_large', async () => {
      const body = JSON.stringify({ username: 'x', password: 'y'.repeat(16 * 1024 + 1) });
      expectError(await call(url, 'POST', '/api/login', { raw: body }), 413, 'payload_too_large');
    });
  });

  describe('GET /api/rooms', () => {
    test('lists general with its name and latest sequence', async () => {
      const res = await get('/api/rooms', { token: alice.token });
      assert.equal(res.status, 200);
      const general = (res.body.rooms as { id: string; name: string; lastSeq: number }[]).find((r) => r.id === DEFAULT_ROOM);
      assert.equal(general?.name, 'general');
      assert.equal(general?.lastSeq, q(TOTAL));
    });

    test('without sign-in -> 401', async () => {
      expectError(await get('/api/rooms'), 401, 'unauthorized');
      expectError(await get('/api/rooms', { token: 'not-a-token' }), 401, 'unauthorized');
    });
  });

  describe('GET /api/rooms/:id/messages', () => {
    test('the seed went in as seqs 1..25', () => {
      assert.deepEqual(seeded.map((a) => a.seq), r(1, TOTAL));
    });

    test('without a cursor: the newest page (default 50), oldest first, with full messages', async () => {
      const res = await history('');
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body).sort(), ['hasMore', 'lastSeq', 'membership', 'messages', 'room']);
      assert.equal(res.body.room, DEFAULT_ROOM);
      assert.equal(res.body.lastSeq, q(TOTAL));
      assert.equal(res.body.hasMore, false);
      const messages = res.body.messages as Message[];
      assert.deepEqual(seqs(messages), r(1, TOTAL));
      const first = messages[0]!;
      assert.deepEqual(first, {
        id: seeded[0]!.message!.id,
        room: DEFAULT_ROOM,
        seq: q(1),
        author: { id: alice.user.id, username: alice.username, avatarUrl: null },
        text: 'message 1',
        clientId: 'seed-1',
        createdAt: new Date(seeded[0]!.message!.createdAt).toISOString(),
        version: q(1),
        editedAt: null,
        deleted: false,
        mentions: [],
        reactions: [],
      });
      assert.equal(messages[1]!.author.id, bob.user.id);
      assert.equal(messages[TOTAL - 1]!.text, `message ${TOTAL}`, 'stored trimmed');
    });

    test('limit: the newest N with hasMore', async () => {
      const res = await history('?limit=10');
      assert.deepEqual(seqs(res.body.messages), r(16, 25));
      assert.equal(res.body.hasMore, true);
      const all = await history(`?limit=${TOTAL}`);
      assert.deepEqual(seqs(all.body.messages), r(1, 25));
      assert.equal(all.body.hasMore, false, 'exactly everything: nothing older');
      const max = await history(`?limit=${LIMITS.historyPageMax}`);
      assert.equal(max.status, 200);
      assert.equal(max.body.messages.length, TOTAL);
    });

    test('before pages backwards without overlap until hasMore is false', async () => {
      const pages: number[][] = [];
      let cursor: number | undefined;
      for (;;) {
        const res = await history(`?limit=10${cursor === undefined ? '' : `&before=${cursor}`}`);
        assert.equal(res.status, 200);
        const page = seqs(res.body.messages);
        pages.push(page);
        if (!res.body.hasMore) break;
        cursor = page[0];
        assert.ok(pages.length < 10, 'paging terminates');
      }
      assert.deepEqual(pages, [r(16, 25), r(6, 15), r(1, 5)]);
    });

    test('before boundaries', async () => {
      let res = await history(`?before=${q(11)}&limit=10`);
      assert.deepEqual(seqs(res.body.messages), r(1, 10));
      assert.equal(res.body.hasMore, false);
      res = await history(`?before=${q(12)}&limit=10`);
      assert.deepEqual(seqs(res.body.messages), r(2, 11));
      assert.equal(res.body.hasMore, true);
      res = await history(`?before=${q(1)}`);
      assert.deepEqual(res.body.messages, []);
      assert.equal(res.body.hasMore, false);
      res = await history('?before=1000&limit=3');
      assert.deepEqual(seqs(res.body.messages), [q(23), q(24), q(25)]);
    });

    test('after pages forwards (oldest first) until hasMore is false', async () => {
      let res = await history(`?after=${q(0)}&limit=10`);
      assert.deepEqual(seqs(res.body.messages), r(1, 10));
      assert.equal(res.body.hasMore, true);
      res = await history(`?after=${q(10)}&limit=10`);
      assert.deepEqual(seqs(res.body.messages), r(11, 20));
      assert.equal(res.body.hasMore, true);
      res = await history(`?after=${q(20)}&limit=10`);
      assert.deepEqual(seqs(res.body.messages), r(21, 25));
      assert.equal(res.body.hasMore, false);
      res = await history(`?after=${q(15)}&limit=10`);
      assert.deepEqual(seqs(res.body.messages), r(16, 25));
      assert.equal(res.body.hasMore, false, 'exactly the rest: nothing newer');
      res = await history(`?after=${q(TOTAL)}`);
      assert.deepEqual(res.body.messages, []);
      assert.equal(res.body.hasMore, false);
      assert.equal(res.body.lastSeq, q(TOTAL), 'up to date');
    });

    test('after beyond the log: an empty page whose lastSeq tells the client it is ahead of the server', async () => {
      const res = await history(`?after=${q(TOTAL + 100)}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.messages, []);
      assert.equal(res.body.hasMore, false);
      assert.equal(res.body.lastSeq, q(TOTAL));
    });

    test('cursors up to 2^53 - 1 are accepted (beyond it they are refused, below)', async () => {
      const res = await history(`?after=${Number.MAX_SAFE_INTEGER}&before=${Number.MAX_SAFE_INTEGER}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.messages, []);
      assert.equal(res.body.lastSeq, q(TOTAL));
    });

    test('after and before together: the window between them', async () => {
      let res = await history(`?after=${q(5)}&before=${q(10)}`);
      assert.deepEqual(seqs(res.body.messages), [q(6), q(7), q(8), q(9)]);
      assert.equal(res.body.hasMore, false);
      res = await history(`?after=${q(5)}&before=${q(10)}&limit=2`);
      assert.deepEqual(seqs(res.body.messages), [q(6), q(7)]);
      assert.equal(res.body.hasMore, true);
      res = await history(`?after=${q(5)}&before=${q(6)}`);
      assert.deepEqual(res.body.messages, []);
    });

    test('numbers in the query mean exactly what they say', async () => {
      // Leading zeros still read as the same whole number; anything else that is not one is a 400 (below).
      assert.deepEqual(seqs((await history('?limit=007')).body.messages), r(19, 25));
      assert.deepEqual(seqs((await history(`?after=00${q(20)}&limit=2`)).body.messages), [q(21), q(22)]);
    });

    test('a cookie session may read history', async () => {
      const res = await get(`/api/rooms/${DEFAULT_ROOM}/messages?limit=1`, { cookie: alice.token });
      assert.equal(res.status, 200);
      assert.deepEqual(seqs(res.body.messages), [q(TOTAL)]);
    });

    for (const [query, field] of [
      ['?limit=101', 'limit'],
      ['?limit=0', 'limit'],
      ['?limit=-5', 'limit'],
      ['?limit=abc', 'limit'],
      ['?limit=2.5', 'limit'],
      ['?limit=true', 'limit'],
      ['?before=1e3', 'before'],
      ['?before=5abc', 'before'],
      ['?limit=', 'limit'],
      ['?before=abc', 'before'],
      ['?before=-1', 'before'],
      ['?after=1e400', 'after'],
      ['?after=99999999999999999999', 'after'],
      ['?before=9007199254740992', 'before'],
      ['?after=1e21', 'after'],
      ['?after=x', 'after'],
      ['?limit=1&limit=2', 'limit'],
      ['?cursor=5', 'cursor'],
    ] as const) {
      test(`400 validation_failed for ${query}`, async () => {
        const error = expectError(await history(query), 400, 'validation_failed');
        assert.ok(error.details?.fields?.[field], `fields.${field} in ${JSON.stringify(error)}`);
      });
    }

    test('an unknown room -> 404 room_not_found', async () => {
      for (const room of ['random', 'abcdefghijkl', 'no-such-room']) {
        expectError(await get(`/api/rooms/${room}/messages`, { token: alice.token }), 404, 'room_not_found');
      }
      // Room ids are lower case: another case is not a room id at all.
      expectError(await get('/api/rooms/General/messages', { token: alice.token }), 400, 'validation_failed');
    });

    test('a room id longer than 64 characters -> 400', async () => {
      const error = expectError(await get(`/api/rooms/${'r'.repeat(65)}/messages`, { token: alice.token }), 400, 'validation_failed');
      assert.ok(error.details?.fields?.id);
    });

    test('without sign-in -> 401, before the room is looked up', async () => {
      expectError(await get(`/api/rooms/${DEFAULT_ROOM}/messages`), 401, 'unauthorized');
      expectError(await get('/api/rooms/no-such-room/messages'), 401, 'unauthorized');
      expectError(await get(`/api/rooms/${DEFAULT_ROOM}/messages`, { cookie: 'stale' }), 401, 'session_expired');
    });

    test('new messages show up at the end, and the room\'s lastSeq follows', async () => {
      const ack = await send(bob, uniqueName('late'), 'one more');
      assert.equal(ack.seq, q(TOTAL + 1));
      const res = await history(`?after=${q(TOTAL)}`);
      assert.deepEqual(seqs(res.body.messages), [q(TOTAL + 1)]);
      assert.equal(res.body.messages[0].text, 'one more');
      const rooms = await get('/api/rooms', { token: bob.token });
      assert.equal(rooms.body.rooms.find((r: { id: string }) => r.id === DEFAULT_ROOM).lastSeq, q(TOTAL) + 1);
    });
  });
});
