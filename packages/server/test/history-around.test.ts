import type { HistoryFrame, HistoryResponse } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call, expectError } from './http-helpers.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/* `around`: the page of history around one message (what a message link opens), over REST and WebSocket. */

let server: TestServer;
let owner: TestUser;
let ana: TestUser;
let stranger: TestUser;
let o: TestSocket;
let s: TestSocket;

before(async () => {
  // A reply budget of 16 KiB: four long messages fill it.
  server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000, membershipChangesPerHour: 1000, replyMaxBytes: 16_384 });
  owner = await server.register(uniqueName('owner'));
  ana = await server.register(uniqueName('ana'));
  stranger = await server.register(uniqueName('stranger'));
  o = connect(server.wsUrl, { token: owner.token, params: { history: '0' } });
  s = connect(server.wsUrl, { token: stranger.token, params: { history: '0' } });
  await Promise.all([o.next('hello'), s.next('hello')]);
});
after(async () => {
  await Promise.all([o.close(), s.close()]);
  await server.close();
});

let sent = 0;
async function say(room: string, text: string): Promise<{ id: number; seq: number }> {
  const clientId = `say-${++sent}`;
  o.send({ type: 'send', room, clientId, text });
  const ack = await o.next('ack', (a) => a.clientId === clientId);
  return { id: ack.messageId!, seq: ack.seq! };
}

async function createRoom(visibility: 'public' | 'private'): Promise<string> {
  const res = await call(server.url, 'POST', '/api/rooms', { token: owner.token, json: { name: uniqueName('room'), visibility } });
  assert.equal(res.status, 201, res.text);
  const id = res.body.room.id as string;
  await o.next('room_joined', (f) => f.room.id === id);
  return id;
}

const get = (user: TestUser, room: string, query: string) => call(server.url, 'GET', `/api/rooms/${room}/messages?${query}`, { token: user.token });
async function rest(room: string, query: string): Promise<HistoryResponse> {
  const res = await get(owner, room, query);
  assert.equal(res.status, 200, res.text);
  return res.body as HistoryResponse;
}
async function ws(socket: TestSocket, room: string, frame: Record<string, unknown>): Promise<HistoryFrame> {
  const ref = uniqueName('h');
  socket.send({ type: 'history', room, ref, ...frame });
  return socket.next('history', (f) => f.ref === ref);
}
async function wsError(socket: TestSocket, room: string, frame: Record<string, unknown>): Promise<string> {
  const ref = uniqueName('h');
  socket.send({ type: 'history', room, ref, ...frame });
  return (await socket.next('error', (f) => f.ref === ref)).code;
}
const texts = (p: { messages: { text: string }[] }) => p.messages.map((m) => m.text);
const shape = (p: HistoryResponse | HistoryFrame) => ({ texts: texts(p), hasMore: p.hasMore, hasNewer: p.hasNewer, membership: p.membership.map((e) => e.seq) });

test('around: the message with about half the page before it and half after, its membership lines, REST and WebSocket alike', async () => {
  const room = await createRoom('private');
  const ids: number[] = [];
  for (let i = 1; i <= 10; i++) {
    ids.push((await say(room, `m${i}`)).id);
    if (i === 5) {
      const res = await call(server.url, 'POST', `/api/rooms/${room}/members`, { token: owner.token, json: { userId: ana.user.id } });
      assert.equal(res.status, 200, res.text);
    }
  }
  const m = (n: number) => ids[n - 1]!;
  const middle = await rest(room, `around=${m(5)}&limit=5`);
  assert.deepEqual([texts(middle), middle.hasMore, middle.hasNewer], [['m3', 'm4', 'm5', 'm6', 'm7'], true, true]);
  // The invitation between m5 and m6 is on the page, once.
  assert.deepEqual(middle.membership.map((e) => `${e.kind} ${e.user.id}`), [`member_invited ${ana.user.id}`]);
  const alone = await rest(room, `around=${m(5)}&limit=1`);
  assert.deepEqual([texts(alone), alone.hasMore, alone.hasNewer], [['m5'], true, true]);
  const end = await rest(room, `around=${m(10)}&limit=5`);
  assert.deepEqual([texts(end), end.hasMore, end.hasNewer], [['m8', 'm9', 'm10'], true, false]);
  assert.equal(end.lastSeq, middle.lastSeq);
  const start = await rest(room, `around=${m(1)}&limit=4`);
  assert.deepEqual([texts(start), start.hasMore, start.hasNewer], [['m1', 'm2'], false, true]);
  // Without a limit: 50, so the whole room, ending at its end.
  const all = await rest(room, `around=${m(4)}`);
  assert.deepEqual([texts(all).length, all.hasMore, all.hasNewer], [10, false, false]);
  // An ordinary page has no hasNewer.
  assert.equal((await rest(room, 'limit=2')).hasNewer, undefined);

  for (const [query, page] of [[{ around: m(5), limit: 5 }, middle], [{ around: m(5), limit: 1 }, alone], [{ around: m(10), limit: 5 }, end], [{ around: m(1), limit: 4 }, start]] as const) {
    assert.deepEqual(shape(await ws(o, room, query)), shape(page));
  }
});

test('around a deleted message: the page with its tombstone, which the client shows as deleted', async () => {
  const room = await createRoom('private');
  await say(room, 'before');
  const gone = await say(room, 'secret');
  await say(room, 'after');
  const del = await call(server.url, 'DELETE', `/api/rooms/${room}/messages/${gone.id}`, { token: owner.token });
  assert.equal(del.status, 200, del.text);
  const page = await rest(room, `around=${gone.id}&limit=3`);
  assert.deepEqual(texts(page), ['before', '', 'after']);
  assert.equal(page.messages[1]!.id, gone.id);
  assert.equal(page.messages[1]!.deleted, true);
});

test('around: bad input is refused; a message of another room, or none, is message_not_found', async () => {
  const room = await createRoom('private');
  const other = await createRoom('private');
  const here = await say(room, 'here');
  const there = await say(other, 'there');
  for (const query of ['around=0', 'around=abc', 'around=1.5', `around=${here.id}&before=5`, `around=${here.id}&after=1`, `around=${here.id}&limit=0`, `around=${here.id}&limit=101`]) {
    expectError(await get(owner, room, query), 400, 'validation_failed');
  }
  expectError(await get(owner, room, `around=${there.id}`), 404, 'message_not_found');
  expectError(await get(owner, room, `around=${Number.MAX_SAFE_INTEGER}`), 404, 'message_not_found');
  assert.equal(await wsError(o, room, { around: here.id, before: 5 }), 'validation_failed');
  assert.equal(await wsError(o, room, { around: 0 }), 'validation_failed');
  assert.equal(await wsError(o, room, { around: there.id }), 'message_not_found');
  // The socket still answers after its errors.
  assert.deepEqual(texts(await ws(o, room, { around: here.id })), ['here']);
});

test('around in a private room the user is not in answers exactly like a room that does not exist; a public room previews', async () => {
  const secret = await createRoom('private');
  const open = await createRoom('public');
  const hidden = await say(secret, 'hidden');
  const shown = await say(open, 'shown');
  const notAllowed = expectError(await get(stranger, secret, `around=${hidden.id}`), 404, 'room_not_found');
  const notThere = expectError(await get(stranger, 'r_does_not_exist', `around=${hidden.id}`), 404, 'room_not_found');
  assert.equal(notAllowed.message, notThere.message);
  // Naming a message that does exist changes nothing.
  expectError(await get(stranger, secret, `around=${Number.MAX_SAFE_INTEGER}`), 404, 'room_not_found');
  assert.equal(await wsError(s, secret, { around: hidden.id }), 'room_not_found');
  const preview = await get(stranger, open, `around=${shown.id}`);
  assert.equal(preview.status, 200, preview.text);
  assert.deepEqual(texts(preview.body), ['shown']);
  assert.deepEqual(texts(await ws(s, open, { around: shown.id })), ['shown']);
});

test('around over WebSocket stays within the reply budget, keeping the message itself and saying both sides go on', async () => {
  const room = await createRoom('private');
  const ids: number[] = [];
  for (let i = 1; i <= 9; i++) ids.push((await say(room, `${i}`.padEnd(3000, 'x'))).id);
  const page = await ws(o, room, { around: ids[4], limit: 9 });
  const kept = page.messages.map((m) => m.id);
  assert.ok(kept.includes(ids[4]!), 'the target is kept');
  assert.ok(kept.length < 9 && kept.length >= 3, `kept ${kept.length}`);
  assert.deepEqual(kept, ids.slice(ids.indexOf(kept[0]!), ids.indexOf(kept[0]!) + kept.length), 'contiguous');
  assert.ok(kept[0]! < ids[4]! && kept.at(-1)! > ids[4]!, 'both sides kept some');
  assert.deepEqual([page.hasMore, page.hasNewer], [true, true]);
  // REST has no byte budget: the whole page.
  assert.equal((await rest(room, `around=${ids[4]}&limit=9`)).messages.length, 9);
});
