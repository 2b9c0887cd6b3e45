import { DEFAULT_ROOM, type EventsFrame, type RoomEvent } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { SqliteStore } from '../src/storage/sqlite.js';
import { startTestServer, storeMessages, type TestServer, type TestUser } from '../src/testing.js';
import { call } from './http-helpers.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/*
 * Replays share one read and one serialization of a room's log (realtime/event-frames.ts): what
 * must hold is that a shared replay is the replay each reader would have got alone.
 */

/** A real SQLite store that counts the event rows `getEvents` hands out: a double at our own seam. */
function countingStore(): { store: SqliteStore; rowsRead: () => number; reads: () => number } {
  const store = new SqliteStore({ file: join(mkdtempSync(join(tmpdir(), 'chatter-replay-')), 'chatter.db') });
  let rows = 0;
  let reads = 0;
  const original = store.getEvents.bind(store);
  store.getEvents = async (room, range) => {
    const page = await original(room, range);
    rows += page.events.length;
    reads++;
    return page;
  };
  return { store, rowsRead: () => rows, reads: () => reads };
}

let server: TestServer;
let rowsRead: () => number;
let reads: () => number;
let sent = 0;

before(async () => {
  const counting = countingStore();
  rowsRead = counting.rowsRead;
  reads = counting.reads;
  server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000, roomCreatesPerHour: 100, membershipChangesPerHour: 1000 }, { store: counting.store });
});
after(() => server.close());

async function say(s: TestSocket, room: string, text: string): Promise<{ seq: number; messageId: number }> {
  const clientId = `say-${++sent}`;
  s.send({ type: 'send', room, clientId, text });
  const ack = await s.next('ack', (a) => a.clientId === clientId);
  return { seq: ack.seq!, messageId: ack.messageId! };
}

async function change(s: TestSocket, frame: Record<string, unknown>): Promise<void> {
  const clientId = `c-${++sent}`;
  s.send({ ...frame, clientId });
  await s.next('ack', (a) => a.clientId === clientId);
}

/** Connect with `resume` and return the replay of `room`. */
async function resume(user: TestUser, room: string, afterSeq: number): Promise<{ socket: TestSocket; replay: EventsFrame }> {
  const socket = connect(server.wsUrl, { token: user.token, params: { history: '0', resume: `${room}:${afterSeq}` } });
  const replay = await socket.next('events', (f) => f.room === room);
  return { socket, replay };
}

async function privateRoom(owner: TestUser, members: TestUser[]): Promise<string> {
  const res = await call(server.url, 'POST', '/api/rooms', { token: owner.token, json: { name: uniqueName('r'), visibility: 'private' } });
  assert.equal(res.status, 201, res.text);
  const room = res.body.room.id as string;
  for (const m of members) assert.equal((await call(server.url, 'POST', `/api/rooms/${room}/members`, { token: owner.token, json: { userId: m.user.id } })).status, 200);
  return room;
}

describe('shared replays', () => {
  test('clients resuming a room from the same seq get identical replays, read from the store once', async () => {
    const [ana, bo, cy] = await Promise.all(['ana', 'bo', 'cy'].map((n) => server.register(uniqueName(n))));
    const room = await privateRoom(ana!, [bo!, cy!]);
    const a = connect(server.wsUrl, { token: ana!.token, params: { history: '0' } });
    await a.next('hello');
    const held = await say(a, room, 'seen by everyone');
    for (let i = 0; i < 30; i++) await say(a, room, `missed ${i}`);
    const first = await resume(bo!, room, held.seq);
    const before = rowsRead();
    const second = await resume(cy!, room, held.seq);
    assert.equal(first.replay.events.length, 30);
    assert.deepEqual(second.replay, first.replay);
    assert.equal(rowsRead() - before, 0, 'the second replay read no event from the store');
    // A reader further back gets the older part from the store and the rest shared.
    const third = await resume(cy!, room, held.seq - 3);
    assert.deepEqual(third.replay.events.slice(3), first.replay.events);
    assert.deepEqual(third.replay.events.map((e) => e.seq).slice(0, 3), [held.seq - 2, held.seq - 1, held.seq]);
    await Promise.all([a.close(), first.socket.close(), second.socket.close(), third.socket.close()]);
  });

  test("a resume whose hello read the room's head is served from a shared tail already through it, with no read", async () => {
    const [ana, bo, cy, di] = await Promise.all(['ana', 'bo', 'cy', 'di'].map((n) => server.register(uniqueName(n))));
    const room = await privateRoom(ana!, [bo!, cy!, di!]);
    const a = connect(server.wsUrl, { token: ana!.token, params: { history: '0' } });
    await a.next('hello');
    const held = await say(a, room, 'seen by everyone');
    for (let i = 0; i < 3; i++) await say(a, room, `missed ${i}`);
    const first = await resume(bo!, room, held.seq);
    let before = reads();
    const second = await resume(cy!, room, held.seq);
    assert.deepEqual(second.replay, first.replay);
    assert.equal(reads() - before, 0, 'no read of the log: the shared tail is through the head the hello read');
    // One more message: the tail is behind the head the next hello reads, and is brought up to it.
    const later = await say(a, room, 'after the second');
    before = reads();
    const third = await resume(di!, room, held.seq);
    assert.ok(reads() - before >= 1);
    assert.deepEqual(third.replay.events.map((e) => e.seq), [...first.replay.events.map((e) => e.seq), later.seq]);
    // Exactly once: the message in the replay does not come again live (a marker after it does).
    const marker = await say(a, room, 'marker');
    await third.socket.next('event', (f) => f.event.kind === 'message_created' && f.event.message.id === marker.messageId);
    assert.equal(third.socket.messages().filter((m) => m.id === later.messageId).length, 0);
    await Promise.all([a.close(), first.socket.close(), second.socket.close(), third.socket.close()]);
  });

  test('an edit and a delete between two resumes are seen by the second, and the deleted text is never replayed again', async () => {
    const [ana, bo] = await Promise.all(['ana', 'bo'].map((n) => server.register(uniqueName(n))));
    const room = await privateRoom(ana!, [bo!]);
    const a = connect(server.wsUrl, { token: ana!.token, params: { history: '0' } });
    await a.next('hello');
    const held = await say(a, room, 'start');
    const edited = await say(a, room, 'first draft');
    const doomed = await say(a, room, 'a secret said by mistake');
    await say(a, room, 'unchanged');
    const first = await resume(bo!, room, held.seq);
    assert.ok(JSON.stringify(first.replay).includes('a secret said by mistake'));
    await first.socket.close();
    await change(a, { type: 'edit', room, messageId: edited.messageId, text: 'final text' });
    await change(a, { type: 'delete', room, messageId: doomed.messageId });
    const second = await resume(bo!, room, held.seq);
    const created = second.replay.events.filter((e): e is Extract<RoomEvent, { kind: 'message_created' }> => e.kind === 'message_created');
    assert.deepEqual(
      created.map((e) => [e.message.text, e.message.deleted]),
      [
        ['final text', false],
        ['', true],
        ['unchanged', false],
      ],
    );
    assert.deepEqual(second.replay.events.slice(3).map((e) => e.kind), ['message_edited', 'message_deleted']);
    assert.ok(!JSON.stringify(second.replay).includes('secret'), 'the deleted text is not in the replay');
    await Promise.all([a.close(), second.socket.close()]);
  });

  test('a new profile picture between two resumes is shown by the second', async () => {
    const [ana, bo] = await Promise.all(['ana', 'bo'].map((n) => server.register(uniqueName(n))));
    const room = await privateRoom(ana!, [bo!]);
    const a = connect(server.wsUrl, { token: ana!.token, params: { history: '0' } });
    await a.next('hello');
    await say(a, room, 'before the picture');
    const first = await resume(bo!, room, 0);
    const authorOf = (replay: EventsFrame) => replay.events.find((e) => e.kind === 'message_created')!;
    const before = authorOf(first.replay);
    assert.ok(before.kind === 'message_created' && before.message.author.avatarUrl === null);
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
    const res = await fetch(`${server.url}/api/me/avatar`, { method: 'PUT', headers: { authorization: `Bearer ${ana!.token}`, 'content-type': 'image/png' }, body: png });
    assert.equal(res.status, 200, await res.clone().text());
    const { user } = (await res.json()) as { user: { avatarUrl: string } };
    // bo's first socket sees the change live; by then every node has dropped its copies.
    await first.socket.next('user_updated');
    const second = await resume(bo!, room, 0);
    const after = authorOf(second.replay);
    assert.ok(after.kind === 'message_created' && after.message.author.avatarUrl === user.avatarUrl);
    await Promise.all([a.close(), first.socket.close(), second.socket.close()]);
  });

  test('a user who may not read a room never gets its cached events', async () => {
    const [ana, bo, eve] = await Promise.all(['ana', 'bo', 'eve'].map((n) => server.register(uniqueName(n))));
    const room = await privateRoom(ana!, [bo!]);
    const a = connect(server.wsUrl, { token: ana!.token, params: { history: '0' } });
    await a.next('hello');
    await say(a, room, 'members only');
    const member = await resume(bo!, room, 0);
    assert.ok(JSON.stringify(member.replay).includes('members only'));
    // Warm now. eve was never in the room; bo is removed from it.
    assert.equal((await call(server.url, 'DELETE', `/api/rooms/${room}/members/${bo!.user.id}`, { token: ana!.token })).status, 200);
    for (const [user, code] of [
      [eve!, 'room_not_found'],
      [bo!, 'room_not_found'],
    ] as const) {
      const s = connect(server.wsUrl, { token: user.token, params: { history: '0' } });
      await s.next('hello');
      s.send({ type: 'resume', rooms: { [room]: 0 } });
      assert.equal((await s.next('error', (e) => e.ref === undefined)).code, code);
      s.send({ type: 'events', room, after: 0, ref: 'peek' });
      assert.equal((await s.next('error', (e) => e.ref === 'peek')).code, code);
      assert.equal(s.all('events').length, 0);
      await s.close();
    }
    await Promise.all([a.close(), member.socket.close()]);
  });
});

describe('bounds', () => {
  test('the cache stays within its bytes, however much is replayed', async () => {
    const small = await startTestServer({ replayCacheBytes: 64 * 1024, replyMaxBytes: 32 * 1024, messagesPerSecond: 1000, messageBurst: 1000 });
    try {
      const u = await small.register(uniqueName('big'));
      const text = '\u0001'.repeat(2000); // 12 KB of JSON each
      await storeMessages(small, Array.from({ length: 40 }, (_, i) => ({ roomId: DEFAULT_ROOM, authorId: u.user.id, clientId: `b${i}`, text, createdAt: Date.now() })));
      for (const from of [0, 10, 20, 30, 35]) {
        const s = connect(small.wsUrl, { token: u.token, params: { history: '0', resume: `${DEFAULT_ROOM}:${from}` } });
        const replay = await s.next('events');
        assert.equal(replay.events[0]!.seq, from + 1);
        assert.ok(small.app.eventFrames.size <= 16 * 1024, `a room holds a quarter of the cache, not ${small.app.eventFrames.size} bytes`);
        await s.close();
      }
    } finally {
      await small.close();
    }
  });

  test('a resume of large events reads from the store about what fits in the reply, not a whole page', async () => {
    const big = countingStore();
    const s2 = await startTestServer({ replayCacheBytes: 0, replyMaxBytes: 64 * 1024 }, { store: big.store });
    try {
      const u = await s2.register(uniqueName('large'));
      const text = '\u0001'.repeat(4000); // 24 KB of JSON each
      await storeMessages(s2, Array.from({ length: 200 }, (_, i) => ({ roomId: DEFAULT_ROOM, authorId: u.user.id, clientId: `l${i}`, text, createdAt: Date.now() })));
      const before = big.rowsRead();
      const s = connect(s2.wsUrl, { token: u.token, params: { history: '0', resume: `${DEFAULT_ROOM}:1` } });
      const replay = await s.next('events');
      assert.equal(replay.hasMore, true);
      assert.ok(replay.events.length <= 3);
      assert.ok(big.rowsRead() - before <= 20, `read ${big.rowsRead() - before} events to send ${replay.events.length}`);
      await s.close();
    } finally {
      await s2.close();
    }
  });
});
