/**
 * A window of a room away from its end (a message link): `loadAround`, `loadNewer` back to the end,
 * `jumpToLatest`, and live messages meanwhile. On hand-written pages and events first (the orders a
 * server may send them in), then against a real server.
 */
import { startTestServer, storeMessages, type TestServer, type TestUser } from '@chatter/server/testing';
import type { Message, MyRoom, PublicUser, RoomEvent, SelfUser } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { ChatterApiError, ChatterStore, type MembershipEvent } from '../src/index.js';
import { assertAscending, closeAllClients, recordClient, texts, uniqueName, waitFor } from './helpers.js';

const me: SelfUser = { id: 1, username: 'me', avatarUrl: null, email: null, createdAt: '2026-01-01T00:00:00Z' };
const ana: PublicUser = { id: 2, username: 'ana', avatarUrl: null };
const at = '2026-01-01T10:00:00Z';
const info = (lastSeq: number): MyRoom => ({
  id: 'general', kind: 'channel', name: 'general', topic: '', visibility: 'public', archived: false, createdAt: at, lastSeq,
  memberCount: 2, members: [], role: 'member', readSeq: lastSeq, unread: 0, mentions: 0, notify: 'all', lastActivityAt: at,
});
const message = (seq: number): Message => ({
  id: 1000 + seq, room: 'general', seq, author: ana, text: `m${seq}`, clientId: `c${seq}`, createdAt: at, version: seq,
  editedAt: null, deleted: false, mentions: [], reactions: [],
});
const created = (seq: number): RoomEvent => ({ room: 'general', seq, at, actorId: ana.id, kind: 'message_created', message: message(seq) });
const joined = (seq: number): MembershipEvent => ({ room: 'general', seq, at, actorId: null, kind: 'member_joined', user: ana, role: 'member' });
const page = (seqs: number[], over: { hasMore?: boolean; hasNewer?: boolean; lastSeq: number; membership?: MembershipEvent[] }) => ({
  messages: seqs.map(message), hasMore: over.hasMore ?? false, lastSeq: over.lastSeq, membership: over.membership ?? [], ...(over.hasNewer !== undefined && { hasNewer: over.hasNewer }),
});
const seqs = (s: ChatterStore) => s.room('general')!.messages.map((m) => m.seq);
const lines = (s: ChatterStore) => s.room('general')!.timeline.map((t) => (t.kind === 'message' ? t.message.seq : `joined@${t.events[0]!.seq}`));

describe('a window away from the room end, in the store', () => {
  test('a window replaces what was held; live messages past it are counted, not held, until newer pages meet the end', () => {
    const s = new ChatterStore();
    s.hello(me, [info(20)]);
    s.applyPage('general', page([18, 19, 20], { hasMore: true, lastSeq: 20 }), 'newest');
    assert.deepEqual(seqs(s), [18, 19, 20]);
    s.applyPage('general', page([3, 4, 5], { hasMore: true, hasNewer: true, lastSeq: 20 }), 'window');
    const view = s.room('general')!;
    assert.deepEqual([seqs(s), view.hasMoreOlder, view.hasMoreNewer], [[3, 4, 5], true, true]);
    assert.equal(s.message(1018), undefined, 'the old window is dropped');
    // Live, while the reader is far back: counted, not in the timeline (it belongs after pages not loaded).
    s.receive('general', [created(21), joined(22)]);
    assert.deepEqual(lines(s), [3, 4, 5]);
    assert.equal(s.room('general')!.info.unread, 1);
    assert.equal(s.applied('general'), 22);
    // A page that reaches the log's end as it read it (20) is still behind what was applied (22).
    s.applyPage('general', page([6, 7, 20], { hasMore: false, lastSeq: 20 }), 'newer');
    assert.deepEqual([seqs(s), s.room('general')!.hasMoreNewer], [[3, 4, 5, 6, 7, 20], true]);
    s.applyPage('general', page([21], { hasMore: false, lastSeq: 22, membership: [joined(22)] }), 'newer');
    assert.deepEqual([lines(s), s.room('general')!.hasMoreNewer], [[3, 4, 5, 6, 7, 20, 21, 'joined@22'], false]);
    // At the end again: live messages are held.
    s.receive('general', [created(23)]);
    assert.deepEqual(lines(s), [3, 4, 5, 6, 7, 20, 21, 'joined@22', 23]);
  });

  test('a window that reaches the end is live at once; one read before live events applied is not', () => {
    const s = new ChatterStore();
    s.hello(me, [info(10)]);
    s.applyPage('general', page([9, 10], { hasMore: true, hasNewer: false, lastSeq: 10 }), 'window');
    assert.equal(s.room('general')!.hasMoreNewer, false);
    s.receive('general', [created(11)]);
    assert.deepEqual(seqs(s), [9, 10, 11]);
    s.receive('general', [created(12)]);
    s.applyPage('general', page([10, 11], { hasMore: true, hasNewer: false, lastSeq: 11 }), 'window');
    assert.equal(s.room('general')!.hasMoreNewer, true, 'message 12 was applied after the page was read: a page after it must fetch it');
    s.receive('general', [created(13)]);
    assert.deepEqual(seqs(s), [10, 11]);
  });
});

describe('loadAround, loadNewer and jumpToLatest against a real server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
  });
  after(() => server.close());
  afterEach(() => closeAllClients());

  async function roomWith(user: TestUser, count: number, visibility: 'public' | 'private' = 'private'): Promise<{ room: string; ids: number[] }> {
    const { token } = user;
    const res = await fetch(`${server.url}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: uniqueName('room'), visibility }),
    });
    const room = ((await res.json()) as { room: { id: string } }).room.id;
    const authorId = user.user.id;
    await storeMessages(server, Array.from({ length: count }, (_, i) => ({ roomId: room, authorId, clientId: `old-${i}`, text: `old ${i}`, createdAt: Date.now() })));
    const all = await server.app.store.getMessages(room, { limit: 100, before: Number.MAX_SAFE_INTEGER });
    let ids = all.messages.map((m) => m.id);
    for (let hasMore = all.hasMore; hasMore; ) {
      const older = await server.app.store.getMessages(room, { before: (await server.app.store.getMessage(room, ids[0]!))!.seq, limit: 100 });
      ids = [...older.messages.map((m) => m.id), ...ids];
      hasMore = older.hasMore;
    }
    return { room, ids };
  }

  test('a message 300 back: the window around it, live messages meanwhile, newer pages back to the end, each message once and in order', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('alice')), server.register(uniqueName('bob'))]);
    const { room, ids } = await roomWith(alice, 320);
    const added = await fetch(`${server.url}/api/rooms/${room}/members`, {
      method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ userId: bob.user.id }),
    });
    assert.equal(added.status, 200);
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token);
    a.client.connect();
    b.client.connect();
    await waitFor(() => a.client.store.room(room) !== null && b.client.store.room(room) !== null, 'both in the room');
    await a.client.loadRoom(room);
    const target = ids[19]!; // "old 19", 300 back
    await a.client.loadAround(room, target, 21);
    const view = a.client.store.room(room)!;
    assert.deepEqual(texts(view.messages), Array.from({ length: 21 }, (_, i) => `old ${i + 9}`));
    assert.deepEqual([view.hasMoreOlder, view.hasMoreNewer], [true, true]);
    assert.ok(a.resets.includes(room), 'consumers are told the room was replaced');

    b.client.send(room, 'live while far back');
    await waitFor(() => a.client.store.room(room)!.info.lastActivityAt !== view.info.lastActivityAt || a.delivered.some((m) => m.text === 'live while far back'), 'the live message is applied');
    assert.deepEqual(texts(a.client.store.room(room)!.messages), texts(view.messages), 'it is not held past a window that stops short');

    // 30-129 and 130-229 say more follow; 230-319 and the live one meet the end.
    let pages = 1;
    while (await a.client.loadNewer(room, 100)) pages++;
    assert.equal(pages, 3);
    const back = a.client.store.room(room)!;
    assertAscending(back.messages);
    assert.deepEqual(texts(back.messages), [...Array.from({ length: 311 }, (_, i) => `old ${i + 9}`), 'live while far back']);
    assert.equal(back.hasMoreNewer, false);
    b.client.send(room, 'live at the end');
    await waitFor(() => texts(a.client.store.room(room)!.messages).at(-1) === 'live at the end', 'held again at the end');
    assert.equal(new Set(a.client.store.room(room)!.messages.map((m) => m.id)).size, a.client.store.room(room)!.messages.length, 'each once');
  });

  test('jumpToLatest returns to the end; a message not there and one in a room one may not see both reject with 404 codes, leaving the store alone', async () => {
    const [alice, eve] = await Promise.all([server.register(uniqueName('alice')), server.register(uniqueName('eve'))]);
    const { room, ids } = await roomWith(alice, 120);
    const a = recordClient(server.url, alice.token);
    a.client.connect();
    await waitFor(() => a.client.store.room(room) !== null, 'in the room');
    await a.client.loadRoom(room);
    // A page asked for next to the old messages, answered after the window replaced them, is dropped.
    await Promise.all([a.client.loadAround(room, ids[5]!, 10), a.client.loadOlder(room, 30)]);
    assert.deepEqual(texts(a.client.store.room(room)!.messages), Array.from({ length: 10 }, (_, i) => `old ${i}`));
    assert.equal(a.client.store.room(room)!.hasMoreNewer, true);
    await a.client.jumpToLatest(room);
    const view = a.client.store.room(room)!;
    assert.deepEqual([view.hasMoreNewer, texts(view.messages).at(-1)], [false, 'old 119']);
    a.client.send(room, 'after the jump');
    await waitFor(() => texts(a.client.store.room(room)!.messages).at(-1) === 'after the jump', 'live again');

    const e = recordClient(server.url, eve.token);
    e.client.connect();
    await waitFor(() => e.client.status === 'online', 'eve online');
    const codes = async (r: string, id: number) => a.client.loadAround(r, id).then(() => 'loaded', (err: unknown) => (err instanceof ChatterApiError ? err.code : String(err)));
    const eveCode = async (r: string, id: number) => e.client.loadAround(r, id).then(() => 'loaded', (err: unknown) => (err instanceof ChatterApiError ? err.code : String(err)));
    const before = a.client.store.room(room);
    assert.equal(await codes(room, Number.MAX_SAFE_INTEGER), 'message_not_found');
    assert.equal(a.client.store.room(room), before, 'the store is unchanged');
    assert.equal(await eveCode(room, ids[5]!), 'room_not_found');
    assert.equal(await eveCode('r_nope', ids[5]!), 'room_not_found');
  });
});
