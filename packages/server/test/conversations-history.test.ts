import type { HistoryFrame, HistoryResponse } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call, expectError } from './http-helpers.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/* A history page carries the membership events of the span of the log it covers, over REST and WebSocket. */

let server: TestServer;
let owner: TestUser;
let ana: TestUser;
let bo: TestUser;
let cy: TestUser;
let stranger: TestUser;
let o: TestSocket;

before(async () => {
  server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000, membershipChangesPerHour: 1000 });
  owner = await server.register(uniqueName('owner'));
  ana = await server.register(uniqueName('ana'));
  bo = await server.register(uniqueName('bo'));
  cy = await server.register(uniqueName('cy'));
  stranger = await server.register(uniqueName('stranger'));
  o = connect(server.wsUrl, { token: owner.token, params: { history: '0' } });
  await o.next('hello');
});
after(async () => {
  await o.close();
  await server.close();
});

const api = (user: TestUser, path: string) => call(server.url, 'GET', path, { token: user.token });

let sent = 0;
async function say(room: string, text: string): Promise<number> {
  const clientId = `say-${++sent}`;
  o.send({ type: 'send', room, clientId, text });
  return (await o.next('ack', (a) => a.clientId === clientId)).seq!;
}

async function createRoom(): Promise<string> {
  const res = await call(server.url, 'POST', '/api/rooms', { token: owner.token, json: { name: uniqueName('room'), visibility: 'private' } });
  assert.equal(res.status, 201, res.text);
  const id = res.body.room.id as string;
  await o.next('room_joined', (f) => f.room.id === id);
  return id;
}

async function invite(room: string, user: TestUser): Promise<number> {
  const res = await call(server.url, 'POST', `/api/rooms/${room}/members`, { token: owner.token, json: { userId: user.user.id } });
  assert.equal(res.status, 200, res.text);
  return res.body.seq as number;
}

const lines = (page: Pick<HistoryResponse, 'membership'>) => page.membership.map((e) => `${e.kind} ${e.user.id}`);

test('a history page carries the membership events of its span, bounded to its limit, of its own room only; REST and WebSocket agree', async () => {
  const room = await createRoom();
  const other = await createRoom();
  const m1 = await say(room, 'one');
  await invite(room, ana);
  await invite(other, stranger); // same seqs in another room's log: must not show here
  const m2 = await say(room, 'two');
  const m3 = await say(room, 'three');
  const left = await call(server.url, 'POST', `/api/rooms/${room}/leave`, { token: ana.token });
  assert.equal(left.status, 200);
  await say(room, 'four');
  await invite(room, bo);
  await invite(room, cy);
  await say(other, 'elsewhere');

  const rest = async (query: string) => {
    const res = await api(owner, `/api/rooms/${room}/messages?${query}`);
    assert.equal(res.status, 200, res.text);
    return res.body as HistoryResponse;
  };
  // The newest page covers its oldest message up to the room's end.
  const newest = await rest('limit=3');
  assert.deepEqual(newest.messages.map((m) => m.text), ['two', 'three', 'four']);
  assert.deepEqual(lines(newest), [`member_left ${ana.user.id}`, `member_invited ${bo.user.id}`, `member_invited ${cy.user.id}`]);
  assert.ok(newest.membership.every((e) => e.room === room && e.seq > m2 && e.seq <= newest.lastSeq));
  // At most `limit` of them, the newest kept.
  const small = await rest('limit=2');
  assert.deepEqual(small.messages.map((m) => m.text), ['three', 'four']);
  assert.deepEqual(lines(small), [`member_invited ${bo.user.id}`, `member_invited ${cy.user.id}`]);
  // The first page of the room covers its start, but the owner's membership is part of the
  // room's creation, not a join.
  const first = await rest(`before=${m3}&limit=2`);
  assert.deepEqual([first.messages.map((m) => m.text), first.hasMore], [['one', 'two'], false]);
  assert.deepEqual(lines(first), [`member_invited ${ana.user.id}`]);
  assert.ok(first.membership[0]!.seq > m1 && first.membership[0]!.seq < m2);
  assert.equal(first.membership[0]!.user.username, ana.user.username);
  // A membership event older than the first message is on the first page.
  const late = await createRoom();
  await invite(late, bo);
  await say(late, 'first words');
  const lateRes = await api(owner, `/api/rooms/${late}/messages`);
  assert.deepEqual(lines(lateRes.body as HistoryResponse), [`member_invited ${bo.user.id}`]);
  // A page forward covers from the cursor to its newest message.
  const forward = await rest(`after=${m1}&limit=2`);
  assert.deepEqual([forward.messages.map((m) => m.text), forward.hasMore], [['two', 'three'], true]);
  assert.deepEqual(lines(forward), [`member_invited ${ana.user.id}`]);
  // Between two messages with no membership event: none.
  assert.deepEqual(lines(await rest(`after=${m2}&limit=1`)), []);

  const ws = async (frame: Record<string, unknown>) => {
    const ref = uniqueName('h');
    o.send({ type: 'history', room, ref, ...frame });
    return o.next('history', (f) => f.ref === ref);
  };
  const pick = (p: HistoryResponse | HistoryFrame) => ({ messages: p.messages, hasMore: p.hasMore, membership: p.membership });
  assert.deepEqual(pick(await ws({ limit: 3 })), pick(newest));
  assert.deepEqual(pick(await ws({ limit: 2 })), pick(small));
  assert.deepEqual(pick(await ws({ before: m3, limit: 2 })), pick(first));
  assert.deepEqual(pick(await ws({ after: m1, limit: 2 })), pick(forward));
});

test('the membership of a private room stays as hidden as its messages', async () => {
  const room = await createRoom();
  await invite(room, ana);
  await say(room, 'secret');
  expectError(await api(stranger, `/api/rooms/${room}/messages`), 404, 'room_not_found');
  const s = connect(server.wsUrl, { token: stranger.token, params: { history: '0' } });
  await s.next('hello');
  s.send({ type: 'history', room, ref: 'peek' });
  assert.equal((await s.next('error', (e) => e.ref === 'peek')).code, 'room_not_found');
  await s.close();
});
