import { DEFAULT_ROOM, LIMITS, type Message, type MyRoom } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call, expectError, type CallOptions } from './http-helpers.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/* Rooms, DMs, membership and message changes over REST, with what live sockets receive. */

let server: TestServer;
const api = (user: TestUser, method: string, path: string, options: CallOptions = {}) => call(server.url, method, path, { token: user.token, ...options });
const enc = encodeURIComponent;

async function createRoom(owner: TestUser, visibility: 'public' | 'private', name = uniqueName('room')): Promise<string> {
  const res = await api(owner, 'POST', '/api/rooms', { json: { name, visibility } });
  assert.equal(res.status, 201, res.text);
  return res.body.room.id as string;
}

/** A signed-in socket with no initial history, after its hello. */
async function online(user: TestUser): Promise<TestSocket> {
  const s = connect(server.wsUrl, { token: user.token, params: { history: '0' } });
  await s.next('hello');
  return s;
}

let sent = 0;
async function say(s: TestSocket, room: string, text: string): Promise<{ seq: number; messageId: number }> {
  const clientId = `say-${++sent}`;
  s.send({ type: 'send', room, clientId, text });
  const ack = await s.next('ack', (a) => a.clientId === clientId);
  return { seq: ack.seq!, messageId: ack.messageId! };
}

before(async () => {
  server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000, reactionsPerMinute: 1000, membershipChangesPerHour: 1000 });
});
after(() => server.close());

describe('rooms', () => {
  let owner: TestUser;
  let member: TestUser;
  let stranger: TestUser;
  before(async () => {
    owner = await server.register(uniqueName('owner'));
    member = await server.register(uniqueName('member'));
    stranger = await server.register(uniqueName('stranger'));
  });

  test('registration puts the user in general with a member_joined event of their own', async () => {
    const newcomer = await server.register(uniqueName('new'));
    const rooms = (await api(newcomer, 'GET', '/api/rooms')).body.rooms as MyRoom[];
    assert.deepEqual(rooms.map((r) => r.id), [DEFAULT_ROOM]);
    const s = connect(server.wsUrl, { token: newcomer.token, params: { resume: `${DEFAULT_ROOM}:${rooms[0]!.lastSeq - 1}` } });
    const replay = await s.next('events');
    assert.deepEqual(replay.events.map((e) => [e.kind, e.actorId]), [['member_joined', newcomer.user.id]]);
    await s.close();
  });

  test('create: 201 with the owner\'s membership; the creator\'s sockets get room_joined; a retried Idempotency-Key creates nothing new', async () => {
    const s = await online(owner);
    const headers = { 'idempotency-key': uniqueName('create') };
    const res = await api(owner, 'POST', '/api/rooms', { json: { name: '  Design  ', topic: 'pixels', visibility: 'private' }, headers });
    assert.equal(res.status, 201);
    const room = res.body.room;
    assert.match(room.id, new RegExp(LIMITS.roomIdPattern));
    assert.equal(room.id.length, 12);
    assert.deepEqual([room.name, room.topic, room.visibility, room.kind, room.memberCount], ['Design', 'pixels', 'private', 'channel', 1]);
    assert.equal(res.body.membership.role, 'owner');
    const joined = await s.next('room_joined', (f) => f.room.id === room.id);
    assert.equal(joined.room.role, 'owner');
    const again = await api(owner, 'POST', '/api/rooms', { json: { name: 'Design', topic: 'pixels', visibility: 'private' }, headers });
    assert.equal(again.status, 200);
    assert.equal(again.body.room.id, room.id);
    const mine = (await api(owner, 'GET', '/api/rooms')).body.rooms as MyRoom[];
    assert.equal(mine.filter((r) => r.name === 'Design').length, 1);
    expectError(await api(owner, 'POST', '/api/rooms', { json: { name: 'x', visibility: 'public' }, headers: { 'idempotency-key': 'not ok!' } }), 400, 'validation_failed');
    expectError(await api(owner, 'POST', '/api/rooms', { json: { name: 'x', visibility: 'secret' } }), 400, 'validation_failed');
    expectError(await api(owner, 'POST', '/api/rooms', { json: { name: '   ', visibility: 'public' } }), 400, 'validation_failed');
    await s.close();
  });

  test('a private room is invisible to others: every route answers exactly like a room that does not exist', async () => {
    const id = await createRoom(owner, 'private');
    const missing = 'abcdefghijkl';
    for (const [method, path, json] of [
      ['GET', '/api/rooms/%s', undefined],
      ['GET', '/api/rooms/%s/messages', undefined],
      ['GET', '/api/rooms/%s/members', undefined],
      ['POST', '/api/rooms/%s/join', undefined],
      ['POST', '/api/rooms/%s/leave', undefined],
      ['PATCH', '/api/rooms/%s', { name: 'mine now' }],
      ['POST', '/api/rooms/%s/members', { userId: stranger.user.id }],
      ['POST', '/api/rooms/%s/read', { seq: 1 }],
      ['PATCH', '/api/rooms/%s/membership', { notify: 'none' }],
      ['DELETE', '/api/rooms/%s/messages/1', undefined],
      ['PUT', `/api/rooms/%s/messages/1/reactions/${enc('👍')}`, undefined],
    ] as const) {
      const hidden = await api(stranger, method, path.replace('%s', id), { json });
      const absent = await api(stranger, method, path.replace('%s', missing), { json });
      expectError(hidden, 404, 'room_not_found');
      assert.deepEqual(hidden.body, absent.body, `${method} ${path}`);
    }
    const publicRooms = (await api(stranger, 'GET', '/api/rooms/public')).body.rooms as { id: string }[];
    assert.ok(!publicRooms.some((r) => r.id === id), 'not listed either');
  });

  test('a public room: anyone previews its history; only members write; join and leave are events', async () => {
    const id = await createRoom(owner, 'public', uniqueName('Lobby'));
    const o = await online(owner);
    await say(o, id, 'welcome');
    const preview = await api(stranger, 'GET', `/api/rooms/${id}/messages`);
    assert.equal(preview.status, 200);
    assert.deepEqual(preview.body.messages.map((m: Message) => m.text), ['welcome']);
    const info = await api(stranger, 'GET', `/api/rooms/${id}`);
    assert.equal(info.body.membership, null);
    const listed = (await api(stranger, 'GET', `/api/rooms/public?q=${enc(info.body.room.name.slice(0, 6).toUpperCase())}`)).body.rooms as { id: string; joined: boolean }[];
    assert.deepEqual(listed.find((r) => r.id === id)?.joined, false);

    const s = await online(stranger);
    s.send({ type: 'send', room: id, clientId: 'not-yet', text: 'hi' });
    assert.equal((await s.next('error', (e) => e.ref === 'not-yet')).code, 'not_a_member');

    const joined = await api(stranger, 'POST', `/api/rooms/${id}/join`);
    assert.equal(joined.status, 200);
    assert.equal(joined.body.membership.role, 'member');
    const event = await o.nextEvent('member_joined', (e) => e.room === id);
    assert.equal(event.user.id, stranger.user.id);
    await s.next('room_joined', (f) => f.room.id === id);
    // The socket is in the room at once: it receives the next message without reconnecting.
    await say(o, id, 'hello newcomer');
    await s.nextMessage((m) => m.text === 'hello newcomer');
    const again = await api(stranger, 'POST', `/api/rooms/${id}/join`);
    assert.equal(again.status, 200, 'joining twice changes nothing');

    const left = await api(stranger, 'POST', `/api/rooms/${id}/leave`);
    assert.deepEqual([left.status, left.body.duplicate], [200, false]);
    assert.equal((await o.nextEvent('member_left', (e) => e.room === id)).user.id, stranger.user.id);
    assert.equal((await s.next('room_left', (f) => f.room === id)).reason, 'left');
    expectError(await api(stranger, 'POST', `/api/rooms/${DEFAULT_ROOM}/leave`), 403, 'forbidden');
    await Promise.all([o.close(), s.close()]);
  });

  test('invite to a private room: the invitee\'s open sockets join it at once', async () => {
    const id = await createRoom(owner, 'private');
    const m = await online(member);
    const o0 = await online(owner);
    const res = await api(owner, 'POST', `/api/rooms/${id}/members`, { json: { userId: member.user.id } });
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.seq, 'number');
    const joined = await m.next('room_joined', (f) => f.room.id === id);
    assert.equal(joined.room.visibility, 'private');
    // Then who of the room is online, as on connect.
    const presence = await m.next('presence', (f) => f.room === id);
    assert.ok(presence.users.some((u) => u.id === owner.user.id) && presence.users.some((u) => u.id === member.user.id));
    assert.ok(m.frames.indexOf(joined) < m.frames.indexOf(presence));
    await o0.close();
    // A retried invitation with its Idempotency-Key gets the first answer.
    const guest = await server.register(uniqueName('guest'));
    const headers = { 'idempotency-key': uniqueName('invite') };
    const first = await api(owner, 'POST', `/api/rooms/${id}/members`, { json: { userId: guest.user.id }, headers });
    const retry = await api(owner, 'POST', `/api/rooms/${id}/members`, { json: { userId: guest.user.id }, headers });
    assert.deepEqual([retry.body.seq, retry.body.duplicate], [first.body.seq, true]);
    const plain = await api(owner, 'POST', `/api/rooms/${id}/members`, { json: { userId: guest.user.id } });
    assert.deepEqual([plain.body.seq, plain.body.duplicate], [null, false], 'without a key, a repeat is a no-op');
    const o = await online(owner);
    await say(o, id, 'psst');
    await m.nextMessage((x) => x.text === 'psst');
    expectError(await api(owner, 'POST', `/api/rooms/${id}/members`, { json: { userId: 999_999 } }), 404, 'user_not_found');
    const members = (await api(member, 'GET', `/api/rooms/${id}/members`)).body.members as { user: { id: number }; role: string }[];
    assert.deepEqual(members.map((x) => [x.user.id, x.role]), [[owner.user.id, 'owner'], [member.user.id, 'member'], [guest.user.id, 'member']]);
    await Promise.all([m.close(), o.close()]);
  });

  test('a removed member stops receiving at once, on every open socket', async () => {
    const id = await createRoom(owner, 'private');
    await api(owner, 'POST', `/api/rooms/${id}/members`, { json: { userId: member.user.id } });
    const tabs = [await online(member), await online(member)];
    const o = await online(owner);
    const witness = await server.register(uniqueName('witness'));
    await api(owner, 'POST', `/api/rooms/${id}/members`, { json: { userId: witness.user.id } });
    const w = await online(witness);

    expectError(await api(member, 'DELETE', `/api/rooms/${id}/members/${owner.user.id}`), 403, 'forbidden');
    const removed = await api(owner, 'DELETE', `/api/rooms/${id}/members/${member.user.id}`);
    assert.equal(removed.status, 200);
    for (const t of tabs) assert.equal((await t.next('room_left', (f) => f.room === id)).reason, 'removed');
    await say(o, id, 'after the removal');
    // The witness, still a member, is the marker: by then the removed member's sockets would have it too.
    await w.nextMessage((m) => m.text === 'after the removal');
    for (const t of tabs) {
      assert.equal(t.messages().filter((m) => m.room === id).length, 0);
      t.send({ type: 'history', room: id, ref: 'peek' });
      assert.equal((await t.next('error', (e) => e.ref === 'peek')).code, 'room_not_found');
    }
    expectError(await api(member, 'GET', `/api/rooms/${id}/messages`), 404, 'room_not_found');
    await Promise.all([...tabs, o, w].map((s) => s.close()));
  });

  test('owners and admins rename, set the topic and archive; an archived room refuses writes until unarchived', async () => {
    const id = await createRoom(owner, 'public');
    await api(member, 'POST', `/api/rooms/${id}/join`);
    const m = await online(member);
    expectError(await api(member, 'PATCH', `/api/rooms/${id}`, { json: { name: 'mine' } }), 403, 'forbidden');
    const renamed = await api(owner, 'PATCH', `/api/rooms/${id}`, { json: { name: 'Renamed', topic: 'new topic' } });
    assert.equal(renamed.status, 200);
    assert.deepEqual([renamed.body.room.name, renamed.body.room.topic], ['Renamed', 'new topic']);
    assert.equal((await m.nextEvent('room_renamed', (e) => e.room === id)).name, 'Renamed');
    assert.equal((await m.nextEvent('room_topic_changed', (e) => e.room === id)).topic, 'new topic');
    const archived = await api(owner, 'PATCH', `/api/rooms/${id}`, { json: { archived: true } });
    assert.equal(archived.body.room.archived, true);
    await m.nextEvent('room_archived', (e) => e.room === id && e.archived);
    m.send({ type: 'send', room: id, clientId: 'archived-send', text: 'hello?' });
    assert.equal((await m.next('error', (e) => e.ref === 'archived-send')).code, 'room_archived');
    expectError(await api(owner, 'PATCH', `/api/rooms/${id}`, { json: { name: 'again' } }), 409, 'room_archived');
    assert.equal((await api(member, 'GET', `/api/rooms/${id}/messages`)).status, 200, 'still readable');
    const back = await api(owner, 'PATCH', `/api/rooms/${id}`, { json: { archived: false, name: 'Back' } });
    assert.deepEqual([back.body.room.archived, back.body.room.name], [false, 'Back']);
    await say(m, id, 'writable again');
    await m.close();
  });

  test('the owner makes admins; an admin moderates members but not other admins or the owner', async () => {
    const id = await createRoom(owner, 'public');
    const [adminUser, other] = [await server.register(uniqueName('adm')), await server.register(uniqueName('oth'))];
    for (const u of [adminUser, other, member]) await api(u, 'POST', `/api/rooms/${id}/join`);
    const o = await online(owner);
    const promoted = await api(owner, 'PATCH', `/api/rooms/${id}/members/${adminUser.user.id}`, { json: { role: 'admin' } });
    assert.equal(promoted.status, 200);
    const event = await o.nextEvent('member_role_changed', (e) => e.room === id);
    assert.deepEqual([event.user.id, event.role], [adminUser.user.id, 'admin']);
    expectError(await api(adminUser, 'PATCH', `/api/rooms/${id}/members/${other.user.id}`, { json: { role: 'admin' } }), 403, 'forbidden');
    expectError(await api(owner, 'PATCH', `/api/rooms/${id}/members/${owner.user.id}`, { json: { role: 'member' } }), 403, 'forbidden');
    expectError(await api(owner, 'PATCH', `/api/rooms/${id}/members/${stranger.user.id}`, { json: { role: 'admin' } }), 404, 'user_not_found');
    expectError(await api(owner, 'PATCH', `/api/rooms/${id}/members/${other.user.id}`, { json: { role: 'owner' } }), 400, 'validation_failed');
    assert.equal((await api(adminUser, 'PATCH', `/api/rooms/${id}`, { json: { topic: 'set by an admin' } })).status, 200);
    await api(owner, 'PATCH', `/api/rooms/${id}/members/${other.user.id}`, { json: { role: 'admin' } });
    expectError(await api(adminUser, 'DELETE', `/api/rooms/${id}/members/${other.user.id}`), 403, 'forbidden');
    expectError(await api(adminUser, 'DELETE', `/api/rooms/${id}/members/${owner.user.id}`), 403, 'forbidden');
    assert.equal((await api(adminUser, 'DELETE', `/api/rooms/${id}/members/${member.user.id}`)).status, 200);
    assert.equal((await api(owner, 'DELETE', `/api/rooms/${id}/members/${other.user.id}`)).status, 200);
    await o.close();
  });

  test('notify level is the member\'s own setting', async () => {
    const res = await api(member, 'PATCH', `/api/rooms/${DEFAULT_ROOM}/membership`, { json: { notify: 'mentions' } });
    assert.equal(res.body.membership.notify, 'mentions');
    expectError(await api(member, 'PATCH', `/api/rooms/${DEFAULT_ROOM}/membership`, { json: { notify: 'loud' } }), 400, 'validation_failed');
  });

  test('notify level defaults: channels "mentions", DMs "all", until the member chooses', async () => {
    const [ana, bo] = await Promise.all(['ana', 'bo'].map((n) => server.register(uniqueName(n))));
    const id = await createRoom(ana!, 'public');
    const dm = (await api(ana!, 'POST', '/api/dms', { json: { userIds: [bo!.user.id] } })).body.room.id as string;
    const levels = async () => Object.fromEntries(((await api(ana!, 'GET', '/api/rooms')).body.rooms as MyRoom[]).map((r) => [r.id, r.notify]));
    assert.deepEqual(await levels(), { [DEFAULT_ROOM]: 'mentions', [id]: 'mentions', [dm]: 'all' });
    assert.equal((await api(ana!, 'GET', `/api/rooms/${id}`)).body.membership.notify, 'mentions');
    await api(ana!, 'PATCH', `/api/rooms/${id}/membership`, { json: { notify: 'all' } });
    await api(ana!, 'PATCH', `/api/rooms/${dm}/membership`, { json: { notify: 'none' } });
    assert.deepEqual(await levels(), { [DEFAULT_ROOM]: 'mentions', [id]: 'all', [dm]: 'none' });
    // Bo's own levels are his: Ana's choices change nothing of his.
    const hello = await (async () => {
      const s = connect(server.wsUrl, { token: bo!.token, params: { history: '0' } });
      const h = await s.next('hello');
      await s.close();
      return h;
    })();
    assert.deepEqual(hello.rooms.filter((r) => r.id === dm || r.id === DEFAULT_ROOM).map((r) => [r.id, r.notify]).sort(), [[DEFAULT_ROOM, 'mentions'], [dm, 'all']].sort());
  });

  test('a notify level change reaches every socket of the member at once, nobody else\'s, and the next hello carries it', async () => {
    const [ana, bo] = await Promise.all(['ana', 'bo'].map((n) => server.register(uniqueName(n))));
    const id = await createRoom(ana!, 'public');
    await api(bo!, 'POST', `/api/rooms/${id}/join`);
    const [phone, desktop, other] = await Promise.all([online(ana!), online(ana!), online(bo!)]);
    const res = await api(ana!, 'PATCH', `/api/rooms/${id}/membership`, { json: { notify: 'none' } });
    assert.equal(res.status, 200);
    for (const s of [phone, desktop]) assert.deepEqual(await s.next('membership_updated'), { type: 'membership_updated', room: id, notify: 'none' });
    // Nothing reached Bo: the marker, a message after the change, arrives with no membership_updated before it.
    const marker = await say(phone, id, 'marker');
    await other.nextMessage((m) => m.seq === marker.seq);
    assert.deepEqual(other.all('membership_updated'), []);
    // A non-member cannot set (or learn) a level.
    const stranger = await server.register(uniqueName('out'));
    expectError(await api(stranger, 'PATCH', `/api/rooms/${id}/membership`, { json: { notify: 'all' } }), 403, 'not_a_member');
    await Promise.all([phone.close(), desktop.close(), other.close()]);
    const again = connect(server.wsUrl, { token: ana!.token, params: { history: '0' } });
    assert.equal((await again.next('hello')).rooms.find((r) => r.id === id)?.notify, 'none');
    await again.close();
  });

  test('a script changing its notify level in a loop spends the change budget', async () => {
    const tight = await startTestServer({ messagesPerSecond: 0.01, messageBurst: 3 });
    try {
      const user = await tight.register(uniqueName('loop'));
      const patch = (notify: string) => call(tight.url, 'PATCH', `/api/rooms/${DEFAULT_ROOM}/membership`, { token: user.token, json: { notify } });
      for (const notify of ['all', 'none', 'all']) assert.equal((await patch(notify)).status, 200);
      const refused = await patch('mentions');
      expectError(refused, 429, 'rate_limited');
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    } finally {
      await tight.close();
    }
  });
});

describe('direct messages', () => {
  test('the same people always open the same DM; nobody else sees it', async () => {
    const [ana, bo, cy, outsider] = await Promise.all(['ana', 'bo', 'cy', 'out'].map((n) => server.register(uniqueName(n))));
    const b = await online(bo!);
    const first = await api(ana!, 'POST', '/api/dms', { json: { userIds: [bo!.user.id, cy!.user.id] } });
    assert.equal(first.status, 201);
    const dm = first.body.room;
    assert.deepEqual([dm.kind, dm.name, dm.visibility, dm.memberCount], ['dm', '', 'private', 3]);
    assert.deepEqual(dm.members.map((u: { id: number }) => u.id).sort(), [ana!.user.id, bo!.user.id, cy!.user.id].sort());
    await b.next('room_joined', (f) => f.room.id === dm.id);
    const fromBo = await api(bo!, 'POST', '/api/dms', { json: { userIds: [cy!.user.id, ana!.user.id] } });
    assert.deepEqual([fromBo.status, fromBo.body.room.id], [200, dm.id]);
    const headers = { 'idempotency-key': uniqueName('dm') };
    const pair = await api(ana!, 'POST', '/api/dms', { json: { userIds: [bo!.user.id] }, headers });
    assert.equal(pair.status, 201);
    // The same key for other people is not a retry of that request.
    expectError(await api(ana!, 'POST', '/api/dms', { json: { userIds: [cy!.user.id] }, headers }), 409, 'idempotency_conflict');
    assert.notEqual(pair.body.room.id, dm.id, 'a different set of people is a different DM');
    expectError(await api(outsider!, 'GET', `/api/rooms/${dm.id}/messages`), 404, 'room_not_found');
    expectError(await api(ana!, 'POST', `/api/rooms/${dm.id}/leave`), 403, 'forbidden');
    expectError(await api(ana!, 'POST', `/api/rooms/${dm.id}/members`, { json: { userId: outsider!.user.id } }), 403, 'forbidden');
    expectError(await api(ana!, 'POST', '/api/dms', { json: { userIds: [999_999] } }), 404, 'user_not_found');
    expectError(await api(ana!, 'POST', '/api/dms', { json: { userIds: [ana!.user.id] } }), 400, 'validation_failed');
    expectError(await api(ana!, 'POST', '/api/dms', { json: { userIds: Array.from({ length: LIMITS.dmMaxUsers }, (_, i) => i + 1) } }), 400, 'validation_failed');
    await b.close();
  });

  test('user search by prefix', async () => {
    const name = uniqueName('Zed');
    const zed = await server.register(name);
    const res = await api(zed, 'GET', `/api/users?q=${enc(name.toLowerCase())}`);
    assert.deepEqual(res.body.users, [{ id: zed.user.id, username: name, avatarUrl: null }]);
    expectError(await api(zed, 'GET', '/api/users?q='), 400, 'validation_failed');
    expectError(await call(server.url, 'GET', '/api/users?q=a'), 401, 'unauthorized');
  });
});

describe('message changes over REST, live on every socket', () => {
  let author: TestUser;
  let other: TestUser;
  let a: TestSocket;
  let o: TestSocket;
  before(async () => {
    author = await server.register(uniqueName('author'));
    other = await server.register(uniqueName('other'));
    a = await online(author);
    o = await online(other);
  });
  after(() => Promise.all([a.close(), o.close()]));

  test('edit: only the author; live for everyone; a retried Idempotency-Key edits once', async () => {
    const { messageId, seq } = await say(a, DEFAULT_ROOM, 'first draft');
    const path = `/api/rooms/${DEFAULT_ROOM}/messages/${messageId}`;
    expectError(await api(other, 'PATCH', path, { json: { text: 'hijacked' } }), 403, 'forbidden');
    const headers = { 'idempotency-key': uniqueName('edit') };
    const res = await api(author, 'PATCH', path, { json: { text: `final, @${other.username}` }, headers });
    assert.equal(res.status, 200);
    assert.equal(res.body.message.text, `final, @${other.username}`);
    assert.deepEqual(res.body.message.mentions, [other.user.id]);
    assert.ok(res.body.message.editedAt);
    assert.equal(res.body.message.version, res.body.seq);
    const live = await o.nextEvent('message_edited', (e) => e.message.id === messageId);
    assert.equal(live.message.text, `final, @${other.username}`);
    assert.equal(live.message.seq, seq);
    const retry = await api(author, 'PATCH', path, { json: { text: `final, @${other.username}` }, headers });
    assert.deepEqual([retry.body.seq, retry.body.duplicate], [res.body.seq, true]);
    expectError(await api(author, 'PATCH', `/api/rooms/${DEFAULT_ROOM}/messages/999999`, { json: { text: 'x' } }), 404, 'message_not_found');
    expectError(await api(author, 'PATCH', path, { json: { text: ' ' } }), 400, 'validation_failed');
  });

  test('react: add, count, remove; a repeat changes nothing; only emoji', async () => {
    const { messageId } = await say(a, DEFAULT_ROOM, 'react to me');
    const path = (emoji: string) => `/api/rooms/${DEFAULT_ROOM}/messages/${messageId}/reactions/${enc(emoji)}`;
    const added = await api(other, 'PUT', path('🎉'));
    assert.equal(added.status, 200);
    const live = await a.nextEvent('reaction_added', (e) => e.messageId === messageId);
    assert.deepEqual([live.emoji, live.userId, live.count], ['🎉', other.user.id, 1]);
    const repeat = await api(other, 'PUT', path('🎉'));
    assert.equal(repeat.body.seq, null, 'already there: no event');
    await api(author, 'PUT', path('🎉'));
    const page = await api(other, 'GET', `/api/rooms/${DEFAULT_ROOM}/messages?after=${live.messageSeq - 1}&limit=1`);
    assert.deepEqual(page.body.messages[0].reactions, [{ emoji: '🎉', count: 2, users: [other.user.id, author.user.id] }]);
    const removed = await api(other, 'DELETE', path('🎉'));
    assert.equal(typeof removed.body.seq, 'number');
    assert.equal((await a.nextEvent('reaction_removed', (e) => e.messageId === messageId)).count, 1);
    expectError(await api(other, 'PUT', path('nope')), 400, 'validation_failed');
  });

  test('delete: the author or an admin; the text is gone, a tombstone stays', async () => {
    const { messageId } = await say(a, DEFAULT_ROOM, 'secret to erase');
    const path = `/api/rooms/${DEFAULT_ROOM}/messages/${messageId}`;
    expectError(await api(other, 'DELETE', path), 403, 'forbidden');
    const res = await api(author, 'DELETE', path);
    assert.equal(res.status, 200);
    const live = await o.nextEvent('message_deleted', (e) => e.message.id === messageId);
    assert.deepEqual([live.message.deleted, live.message.text], [true, '']);
    const page = await api(other, 'GET', `/api/rooms/${DEFAULT_ROOM}/messages?after=${live.message.seq - 1}&limit=1`);
    assert.deepEqual([page.body.messages[0].deleted, page.body.messages[0].text, page.body.messages[0].reactions], [true, '', []]);
    const again = await api(author, 'DELETE', path);
    assert.deepEqual([again.status, again.body.seq], [200, null], 'deleting what is gone changes nothing');
    expectError(await api(author, 'PATCH', path, { json: { text: 'revive' } }), 409, 'message_deleted');
    // A room's owner deletes anyone's message.
    const id = await createRoom(author, 'public');
    await api(other, 'POST', `/api/rooms/${id}/join`);
    const theirs = await say(o, id, 'moderate me');
    assert.equal((await api(author, 'DELETE', `/api/rooms/${id}/messages/${theirs.messageId}`)).status, 200);
  });

  test('read position: moves forward only, counts exclude own and deleted messages, synced to the user\'s other sockets', async () => {
    const id = await createRoom(author, 'public');
    await api(other, 'POST', `/api/rooms/${id}/join`);
    const tab2 = await online(other);
    const m1 = await say(a, id, 'one');
    const m2 = await say(a, id, `two @${other.username}`);
    await say(o, id, 'my own');
    const room = () => api(other, 'GET', `/api/rooms/${id}`).then((r) => r.body.membership);
    assert.deepEqual(await room().then((m) => [m.unread, m.mentions]), [2, 1]);
    await api(author, 'DELETE', `/api/rooms/${id}/messages/${m2.messageId}`);
    assert.deepEqual(await room().then((m) => [m.unread, m.mentions]), [1, 0], 'a deleted unread message stops counting');
    const lastSeq = (await api(other, 'GET', `/api/rooms/${id}`)).body.room.lastSeq;
    const read = await api(other, 'POST', `/api/rooms/${id}/read`, { json: { seq: m1.seq } });
    assert.deepEqual(read.body, { room: id, readSeq: m1.seq, unread: 0, mentions: 0, lastSeq }, 'the counts hold through the room\'s newest seq');
    const synced = await tab2.next('read_state', (f) => f.room === id);
    assert.deepEqual(synced, { type: 'read_state', room: id, readSeq: m1.seq, unread: 0, mentions: 0, lastSeq });
    const back = await api(other, 'POST', `/api/rooms/${id}/read`, { json: { seq: 1 } });
    assert.equal(back.body.readSeq, m1.seq, 'never backward');
    await tab2.close();
  });
});

describe('cost budgets', () => {
  test('room creation, DM opening, membership changes, searches and reactions are each capped per user', async () => {
    const limited = await startTestServer({ roomCreatesPerHour: 2, dmOpensPerHour: 1, membershipChangesPerHour: 1, userSearchesPerMinute: 2, reactionsPerMinute: 1 });
    try {
      const u = await limited.register(uniqueName('script'));
      const v = await limited.register(uniqueName('victim'));
      const w = await limited.register(uniqueName('victim'));
      const req = (method: string, path: string, json?: unknown) => call(limited.url, method, path, { token: u.token, json });
      assert.equal((await req('POST', '/api/rooms', { name: 'a', visibility: 'public' })).status, 201);
      const second = await req('POST', '/api/rooms', { name: 'b', visibility: 'public' });
      assert.equal(second.status, 201);
      const third = await req('POST', '/api/rooms', { name: 'c', visibility: 'public' });
      const error = expectError(third, 429, 'rate_limited');
      assert.ok(Number(third.headers.get('retry-after')) > 0);
      assert.ok(Number(error.details?.retryAfter) > 0);

      assert.equal((await req('POST', '/api/dms', { userIds: [v.user.id] })).status, 201);
      assert.equal((await req('POST', '/api/dms', { userIds: [v.user.id] })).status, 200, 'reopening is free');
      expectError(await req('POST', '/api/dms', { userIds: [w.user.id] }), 429, 'rate_limited');

      const other = (await call(limited.url, 'POST', '/api/rooms', { token: v.token, json: { name: 'v', visibility: 'public' } })).body.room.id;
      assert.equal((await req('POST', `/api/rooms/${other}/join`)).status, 200);
      expectError(await req('POST', `/api/rooms/${other}/leave`), 429, 'rate_limited');

      assert.equal((await req('GET', '/api/users?q=vic')).status, 200);
      assert.equal((await req('GET', '/api/users?q=vic')).status, 200);
      expectError(await req('GET', '/api/users?q=vic'), 429, 'rate_limited');

      const s = connect(limited.wsUrl, { token: u.token, params: { history: '0' } });
      await s.next('hello');
      s.send({ type: 'send', room: DEFAULT_ROOM, clientId: 'm', text: 'x' });
      const messageId = (await s.next('ack')).messageId!;
      s.send({ type: 'react', room: DEFAULT_ROOM, clientId: 'r1', messageId, emoji: '👍', on: true });
      await s.next('ack', (f) => f.clientId === 'r1');
      s.send({ type: 'react', room: DEFAULT_ROOM, clientId: 'r2', messageId, emoji: '👎', on: true });
      assert.equal((await s.next('error', (f) => f.ref === 'r2')).code, 'rate_limited');
      await s.close();
    } finally {
      await limited.close();
    }
  });
});
