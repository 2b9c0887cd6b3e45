import { DEFAULT_ROOM, LIMITS, type RoomEvent } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call } from './http-helpers.js';
import { seedMessages } from './seed.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/* Protocol 2 over WebSocket: every room on one socket, message changes, resume of events, typing, read state. */

let server: TestServer;
let sent = 0;

async function online(user: TestUser, params: Record<string, string> = { history: '0' }): Promise<TestSocket> {
  const s = connect(server.wsUrl, { token: user.token, params });
  await s.next('hello');
  return s;
}

async function createRoom(owner: TestUser, visibility: 'public' | 'private', members: TestUser[] = []): Promise<string> {
  const res = await call(server.url, 'POST', '/api/rooms', { token: owner.token, json: { name: uniqueName('r'), visibility } });
  assert.equal(res.status, 201, res.text);
  for (const m of members) assert.equal((await call(server.url, 'POST', `/api/rooms/${res.body.room.id}/members`, { token: owner.token, json: { userId: m.user.id } })).status, 200);
  return res.body.room.id as string;
}

async function say(s: TestSocket, room: string, text: string): Promise<{ seq: number; messageId: number }> {
  const clientId = `say-${++sent}`;
  s.send({ type: 'send', room, clientId, text });
  const ack = await s.next('ack', (a) => a.clientId === clientId);
  return { seq: ack.seq!, messageId: ack.messageId! };
}

/** Send a change frame and wait for its ack or error. */
async function change(s: TestSocket, frame: Record<string, unknown>) {
  const clientId = (frame.clientId as string | undefined) ?? `c-${++sent}`;
  s.send({ ...frame, clientId });
  return Promise.race([s.next('ack', (a) => a.clientId === clientId), s.next('error', (e) => e.ref === clientId)]);
}

before(async () => {
  server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000, roomCreatesPerHour: 100, reactionsPerMinute: 1000, membershipChangesPerHour: 1000, typingForwardMs: 2500 });
});
after(() => server.close());

describe('one socket, every room', () => {
  test('hello lists every room with counts, the socket receives all of them, and recent ones get initial history', async () => {
    const ana = await server.register(uniqueName('ana'));
    const bo = await server.register(uniqueName('bo'));
    const rooms: string[] = [];
    for (let i = 0; i < LIMITS.initialHistoryRooms + 1; i++) rooms.push(await createRoom(bo, 'private', [ana]));
    const b = await online(bo);
    // The first room is the least recently active: bo speaks in it first, then in every other one.
    for (const room of rooms) await say(b, room, `hi @${ana.username} in ${room}`);
    const a = await online(ana, { history: '5' });
    const hello = a.frames.find((f) => f.type === 'hello')!;
    assert.equal(hello.type, 'hello');
    const mine = new Map(hello.rooms.map((r) => [r.id, r]));
    for (const room of rooms) assert.deepEqual([mine.get(room)?.unread, mine.get(room)?.mentions, mine.get(room)?.role], [1, 1, 'member']);
    assert.ok(mine.has(DEFAULT_ROOM));
    assert.equal(hello.limits.resumeMaxEvents, LIMITS.resumeMaxEvents);
    // Initial history for the most recently active rooms only.
    await a.waitCount('history', LIMITS.initialHistoryRooms);
    a.send({ type: 'ping', ref: 'marker' });
    await a.next('pong');
    const histories = a.all('history').map((h) => h.room);
    assert.equal(histories.length, LIMITS.initialHistoryRooms);
    assert.ok(!histories.includes(rooms[0]!), 'the least recently active room is left for later');
    for (const h of a.all('history')) assert.equal(h.lastSeq, mine.get(h.room)!.lastSeq);
    // Live in every room, including the one without initial history.
    await say(b, rooms[0]!, 'still here');
    await a.nextMessage((m) => m.room === rooms[0] && m.text === 'still here');
    await Promise.all([a.close(), b.close()]);
  });
});

describe('message changes over the socket', () => {
  let ana: TestUser;
  let bo: TestUser;
  let a: TestSocket;
  let b: TestSocket;
  before(async () => {
    ana = await server.register(uniqueName('ana'));
    bo = await server.register(uniqueName('bo'));
    a = await online(ana);
    b = await online(bo);
  });
  after(() => Promise.all([a.close(), b.close()]));

  test('edit, react, unreact and delete: acked with their seq, live for the room, retried ids answered once', async () => {
    const { messageId } = await say(a, DEFAULT_ROOM, 'draft');
    const edit = await change(a, { type: 'edit', room: DEFAULT_ROOM, messageId, text: 'final', clientId: uniqueName('edit') });
    assert.equal(edit.type, 'ack');
    const edited = await b.nextEvent('message_edited', (e) => e.message.id === messageId);
    assert.deepEqual([edited.seq, edited.message.text, edited.actorId], [edit.type === 'ack' && edit.seq, 'final', ana.user.id]);
    const retry = await change(a, { type: 'edit', room: DEFAULT_ROOM, messageId, text: 'final', clientId: edit.type === 'ack' ? edit.clientId : '' });
    assert.deepEqual(retry.type === 'ack' && [retry.seq, retry.duplicate], [edited.seq, true]);

    const react = await change(b, { type: 'react', room: DEFAULT_ROOM, messageId, emoji: '❤️', on: true });
    assert.equal(react.type, 'ack');
    const added = await a.nextEvent('reaction_added', (e) => e.messageId === messageId);
    assert.deepEqual([added.emoji, added.count, added.userId], ['❤️', 1, bo.user.id]);
    const again = await change(b, { type: 'react', room: DEFAULT_ROOM, messageId, emoji: '❤️', on: true });
    assert.equal(again.type === 'ack' && again.seq, null, 'already reacted: nothing changes');
    await change(b, { type: 'react', room: DEFAULT_ROOM, messageId, emoji: '❤️', on: false });
    assert.equal((await a.nextEvent('reaction_removed', (e) => e.messageId === messageId)).count, 0);

    const refused = await change(b, { type: 'edit', room: DEFAULT_ROOM, messageId, text: 'mine now' });
    assert.deepEqual(refused.type === 'error' && refused.code, 'forbidden');
    const notEmoji = await change(b, { type: 'react', room: DEFAULT_ROOM, messageId, emoji: 'abc', on: true });
    assert.deepEqual(notEmoji.type === 'error' && notEmoji.code, 'validation_failed');

    const del = await change(a, { type: 'delete', room: DEFAULT_ROOM, messageId });
    assert.equal(del.type, 'ack');
    const deleted = await b.nextEvent('message_deleted', (e) => e.message.id === messageId);
    assert.deepEqual([deleted.message.deleted, deleted.message.text], [true, '']);
    const late = await change(b, { type: 'react', room: DEFAULT_ROOM, messageId, emoji: '👍', on: true });
    assert.deepEqual(late.type === 'error' && late.code, 'message_deleted');
  });

  test('a user\'s changes are stored in the order sent, whatever each one\'s checks cost (mentions, edits)', async () => {
    const mention = `@${bo.username} `.repeat(20);
    const ids = Array.from({ length: 6 }, (_, i) => `order-${i}-${Math.random().toString(36).slice(2)}`);
    // Mentions take one more read than plain text: without a lane per user, the plain ones would overtake.
    ids.forEach((clientId, i) => a.send({ type: 'send', room: DEFAULT_ROOM, clientId, text: i % 2 === 0 ? `${mention}${i}` : `plain ${i}` }));
    const acks = await Promise.all(ids.map((clientId) => a.next('ack', (f) => f.clientId === clientId)));
    const seqs = acks.map((x) => x.seq!);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    // An edit with mentions, then a delete of the same message: the delete comes second, as sent.
    const target = acks[1]!.messageId!;
    a.send({ type: 'edit', room: DEFAULT_ROOM, clientId: `${ids[0]}-e`, messageId: target, text: `${mention}edited` });
    a.send({ type: 'delete', room: DEFAULT_ROOM, clientId: `${ids[0]}-d`, messageId: target });
    const edit = await a.next('ack', (f) => f.clientId === `${ids[0]}-e`);
    const del = await a.next('ack', (f) => f.clientId === `${ids[0]}-d`);
    assert.ok(edit.seq! < del.seq!, `edit ${edit.seq} before delete ${del.seq}`);
  });

  test('resume after edits, deletes and reactions on old messages: the replay brings each of them, with the text as it is now', async () => {
    const old1 = await say(a, DEFAULT_ROOM, 'old one');
    const old2 = await say(a, DEFAULT_ROOM, 'old two');
    const held = await say(a, DEFAULT_ROOM, 'the last thing bo saw');
    await b.nextMessage((m) => m.seq === held.seq);
    await b.close();
    await change(a, { type: 'edit', room: DEFAULT_ROOM, messageId: old1.messageId, text: 'old one, edited' });
    await change(a, { type: 'react', room: DEFAULT_ROOM, messageId: old1.messageId, emoji: '👍', on: true });
    await change(a, { type: 'delete', room: DEFAULT_ROOM, messageId: old2.messageId });
    const fresh = await say(a, DEFAULT_ROOM, 'new');
    b = await online(bo, { resume: `${DEFAULT_ROOM}:${held.seq}` });
    const replay = await b.next('events', (f) => f.room === DEFAULT_ROOM);
    assert.deepEqual([replay.after, replay.through, replay.hasMore, replay.reason], [held.seq, fresh.seq, false, 'resume']);
    const kinds = replay.events.map((e: RoomEvent) => e.kind);
    assert.deepEqual(kinds, ['message_edited', 'reaction_added', 'message_deleted', 'message_created']);
    assert.deepEqual(replay.events.map((e) => e.seq), [held.seq + 1, held.seq + 2, held.seq + 3, held.seq + 4]);
    const [edited, reacted, deleted] = replay.events as [RoomEvent, RoomEvent, RoomEvent];
    assert.ok(edited.kind === 'message_edited' && edited.message.text === 'old one, edited' && edited.message.seq === old1.seq);
    assert.ok(reacted.kind === 'reaction_added' && reacted.messageSeq === old1.seq && reacted.emoji === '👍');
    assert.ok(deleted.kind === 'message_deleted' && deleted.message.deleted && deleted.message.text === '');
    // Live traffic follows the replay, without repeats.
    await say(a, DEFAULT_ROOM, 'after the resume');
    await b.nextMessage((m) => m.text === 'after the resume');
    assert.deepEqual(b.messages().map((m) => m.text), ['after the resume']);
  });

  test('a replay that fills its byte budget says hasMore, and `events` pages on to the end, each event once', async () => {
    const small = await startTestServer({ replyMaxBytes: 16 * 1024, messagesPerSecond: 1000, messageBurst: 1000 });
    try {
      const u = await small.register(uniqueName('pager'));
      await seedMessages(small, u, 60, 'x'.repeat(500));
      const s = connect(small.wsUrl, { token: u.token, params: { resume: `${DEFAULT_ROOM}:0` } });
      const first = await s.next('events');
      assert.equal(first.hasMore, true);
      assert.ok(first.events.length > 0 && first.events.length < 61);
      const seqs = first.events.map((e) => e.seq);
      let after = first.through;
      for (let page = 0; ; page++) {
        s.send({ type: 'events', room: DEFAULT_ROOM, after, ref: `p${page}` });
        const reply = await s.next('events', (f) => f.ref === `p${page}`);
        assert.equal(reply.reason, 'request');
        seqs.push(...reply.events.map((e) => e.seq));
        if (!reply.hasMore) break;
        after = reply.through;
      }
      assert.deepEqual(seqs, Array.from({ length: 61 }, (_, i) => i + 1));
      s.send({ type: 'events', room: DEFAULT_ROOM, after: 0, limit: 2, ref: 'two' });
      const two = await s.next('events', (f) => f.ref === 'two');
      assert.deepEqual([two.events.length, two.through, two.hasMore], [2, 2, true]);
      await s.close();
    } finally {
      await small.close();
    }
  });

  test('events and resume are for members; a private room is not found', async () => {
    const outsider = await server.register(uniqueName('out'));
    const pub = await createRoom(ana, 'public');
    const priv = await createRoom(ana, 'private');
    const s = await online(outsider);
    s.send({ type: 'events', room: pub, after: 0, ref: 'pub' });
    assert.equal((await s.next('error', (e) => e.ref === 'pub')).code, 'not_a_member');
    s.send({ type: 'events', room: priv, after: 0, ref: 'priv' });
    assert.equal((await s.next('error', (e) => e.ref === 'priv')).code, 'room_not_found');
    s.send({ type: 'history', room: pub, ref: 'preview' });
    assert.equal((await s.next('history', (f) => f.ref === 'preview')).room, pub);
    s.send({ type: 'history', room: priv, ref: 'peek' });
    assert.equal((await s.next('error', (e) => e.ref === 'peek')).code, 'room_not_found');
    s.send({ type: 'resume', rooms: { [priv]: 0, [pub]: 0 } });
    const refused = await s.next('error', (e) => e.code === 'room_not_found' && e.ref === undefined);
    assert.deepEqual(refused.details?.count, 2);
    assert.equal(s.all('events').length, 0);
    await s.close();
  });
});

describe('typing, presence and read state', () => {
  test('typing reaches the room\'s members only, at most once per interval, and expires', async () => {
    const [ana, bo, eve] = await Promise.all(['ana', 'bo', 'eve'].map((n) => server.register(uniqueName(n))));
    const room = await createRoom(ana!, 'private', [bo!]);
    const [a, b, e] = await Promise.all([online(ana!), online(bo!), online(eve!)]);
    a.send({ type: 'typing', room });
    a.send({ type: 'typing', room });
    const notice = await b.next('typing', (f) => f.room === room);
    assert.deepEqual(notice, { type: 'typing', room, user: { id: ana!.user.id, username: ana!.username, avatarUrl: null }, expiresInMs: LIMITS.typingTtlMs });
    // A message after the typing is the marker: a second notice, or one to eve, would be before it.
    await say(a, room, 'done typing');
    await b.nextMessage((m) => m.text === 'done typing');
    assert.equal(b.all('typing').length, 1, 'the second notice within the interval was dropped');
    e.send({ type: 'typing', room });
    assert.equal((await e.next('error')).code, 'room_not_found');
    await say(a, DEFAULT_ROOM, 'marker for eve');
    await e.nextMessage((m) => m.text === 'marker for eve');
    assert.equal(e.all('typing').length, 0);
    await Promise.all([a, b, e].map((s) => s.close()));
  });

  test('presence is told to members only: a private room\'s arrivals are not announced to others', async () => {
    const [ana, bo, eve] = await Promise.all(['ana', 'bo', 'eve'].map((n) => server.register(uniqueName(n))));
    const room = await createRoom(ana!, 'private', [bo!]);
    const [a, e] = await Promise.all([online(ana!), online(eve!)]);
    const b = await online(bo!);
    await a.next('user_joined', (f) => f.room === room && f.user.id === bo!.user.id);
    // In general, where all three are, eve sees bo arrive; that is the marker for the private room.
    await e.next('user_joined', (f) => f.room === DEFAULT_ROOM && f.user.id === bo!.user.id);
    assert.ok(!e.frames.some((f) => 'room' in f && f.room === room), 'eve heard nothing of the private room');
    await Promise.all([a, b, e].map((s) => s.close()));
  });

  test('a read frame moves the position and the user\'s other sockets get read_state', async () => {
    const [ana, bo] = await Promise.all(['ana', 'bo'].map((n) => server.register(uniqueName(n))));
    const room = await createRoom(ana!, 'private', [bo!]);
    const a = await online(ana!);
    const first = await say(a, room, 'one');
    await say(a, room, 'two');
    const [phone, desktop] = [await online(bo!), await online(bo!)];
    phone.send({ type: 'read', room, seq: first.seq });
    for (const s of [phone, desktop]) {
      const state = await s.next('read_state', (f) => f.room === room);
      assert.deepEqual([state.readSeq, state.unread, state.mentions], [first.seq, 1, 0]);
    }
    phone.send({ type: 'read', room: 'abcdefghijkl', seq: 1 });
    assert.equal((await phone.next('error')).code, 'room_not_found');
    await Promise.all([a, phone, desktop].map((s) => s.close()));
  });
});
