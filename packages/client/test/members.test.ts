/**
 * Member lists and notification levels in the SDK: the store loads a room's members when a consumer
 * asks and keeps them current from membership and role events and presence; a user's notification
 * level follows them across devices.
 */
import { startTestServer, storeMessages, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { LIMITS, type Member, type MyRoom, type PublicUser, type RoomEvent, type SelfUser } from '@chatter/protocol';
import { ChatterApi, ChatterStore } from '../src/index.js';
import { closeAllClients, recordClient, uniqueName, waitFor, type Recorded } from './helpers.js';

const me: SelfUser = { id: 1, username: 'me', avatarUrl: null, email: null, createdAt: '2026-01-01T00:00:00Z' };
const ana: PublicUser = { id: 2, username: 'ana', avatarUrl: null };
const bo: PublicUser = { id: 3, username: 'Bo', avatarUrl: null };
const cy: PublicUser = { id: 4, username: 'cy', avatarUrl: null };
const at = '2026-01-01T10:00:00Z';

function room(id: string, lastSeq: number): MyRoom {
  return {
    id, kind: 'channel', name: id, topic: '', visibility: 'public', archived: false, createdAt: at, lastSeq, memberCount: 2, members: [],
    role: 'member', readSeq: lastSeq, unread: 0, mentions: 0, notify: 'mentions', lastActivityAt: at,
  };
}
const member = (user: PublicUser, role: Member['role'] = 'member'): Member => ({ user, role, joinedAt: at });
const joined = (seq: number, user: PublicUser): RoomEvent => ({ kind: 'member_joined', room: 'team', seq, at, actorId: user.id, user, role: 'member' });
const left = (seq: number, user: PublicUser): RoomEvent => ({ kind: 'member_left', room: 'team', seq, at, actorId: user.id, user });
const promoted = (seq: number, user: PublicUser): RoomEvent => ({ kind: 'member_role_changed', room: 'team', seq, at, actorId: me.id, user, role: 'admin' });
const ids = (store: ChatterStore) => store.members('team')?.map((m) => [m.user.username, m.role, m.online]);

describe('store: member lists', () => {
  test('events that arrive while the list loads are applied on top of it, whichever of them it already reflects', () => {
    const store = new ChatterStore();
    store.hello(me, [room('team', 10)]);
    const epoch = store.beginMembersLoad('team')!;
    // The server read lastSeq 10, then the list after Cy joined (11) and Ana left (12): the list has
    // Cy and not Ana. Bo's promotion (13) comes after the list was read.
    store.receive('team', [joined(11, cy), left(12, ana), promoted(13, bo)]);
    assert.equal(store.members('team'), null, 'nothing to show before the list');
    assert.equal(store.setMembers('team', [member(me, 'owner'), member(bo), member(cy)], 10, epoch), true);
    assert.deepEqual(ids(store), [['me', 'owner', false], ['Bo', 'admin', false], ['cy', 'member', false]]);

    // And a list read before any of them: the same members.
    const again = new ChatterStore();
    again.hello(me, [room('team', 10)]);
    const e2 = again.beginMembersLoad('team')!;
    again.receive('team', [joined(11, cy), left(12, ana), promoted(13, bo)]);
    again.setMembers('team', [member(me, 'owner'), member(ana), member(bo)], 10, e2);
    assert.deepEqual(ids(again), ids(store));
  });

  test('a list loaded before the room was reset is refused: events it predates are gone', () => {
    const store = new ChatterStore();
    store.hello(me, [room('team', 10)]);
    store.setMembers('team', [member(me), member(ana)]);
    const epoch = store.beginMembersLoad('team')!;
    store.resetRoom('team');
    assert.equal(store.members('team'), null, 'a reset drops the members: membership events may have been missed');
    assert.equal(store.setMembers('team', [member(me)], 10, epoch), false);
    assert.equal(store.members('team'), null);
  });

  test('the selector sorts owner, admins, members by name, with presence, and keeps its identity until one of them changes', () => {
    const store = new ChatterStore();
    store.hello(me, [room('team', 10)]);
    store.setMembers('team', [member(cy), member(bo), member(me, 'owner'), member(ana, 'admin')], 10);
    store.setPresence('team', [ana], 1);
    store.commit();
    const first = store.members('team');
    assert.deepEqual(ids(store), [['me', 'owner', false], ['ana', 'admin', true], ['Bo', 'member', false], ['cy', 'member', false]]);
    store.setTyping('team', bo, 5000); // touches the room, not its members
    store.commit();
    assert.notEqual(store.room('team'), null);
    assert.equal(store.members('team'), first, 'same array');
    store.setOnline('team', cy, true);
    store.commit();
    assert.notEqual(store.members('team'), first);
    assert.equal(store.members('team')!.find((m) => m.user.id === cy.id)!.online, true);
    store.updateProfile({ ...bo, avatarUrl: '/avatars/bo-2' });
    assert.equal(store.members('team')!.find((m) => m.user.id === bo.id)!.user.avatarUrl, '/avatars/bo-2');
    store.dispose();
  });
});

describe('SDK against a server: members and notification levels', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000, membershipChangesPerHour: 1000 });
  });
  after(() => server.close());
  afterEach(() => closeAllClients());

  const client = (token: string) => recordClient(server.url, token, { api: new ChatterApi({ baseUrl: server.url, token }) });
  async function online(...recs: Recorded[]): Promise<void> {
    for (const r of recs) r.client.connect();
    await waitFor(() => recs.every((r) => r.client.status === 'online'), 'online');
  }

  test('loadMembers fills the store; joins, role changes, presence and leaves keep it current', async () => {
    const [owner, joiner] = await Promise.all([server.register(uniqueName('mo')), server.register(uniqueName('mj'))]);
    const ownerApi = new ChatterApi({ baseUrl: server.url, token: owner.token });
    const id = (await ownerApi.createRoom({ name: uniqueName('team'), visibility: 'public' })).room.id;
    const o = client(owner.token);
    await online(o);
    await waitFor(() => o.client.store.room(id) !== null, 'the owner holds the room');
    const list = await o.client.loadMembers(id);
    assert.deepEqual(list.map((m) => [m.user.id, m.role, m.online]), [[owner.user.id, 'owner', true]]);

    const j = client(joiner.token);
    await new ChatterApi({ baseUrl: server.url, token: joiner.token }).joinRoom(id);
    await waitFor(() => o.client.store.members(id)?.length === 2, 'the joiner is listed');
    assert.equal(o.client.store.members(id)!.find((m) => m.user.id === joiner.user.id)!.online, false, 'not connected yet');
    await online(j);
    await waitFor(() => o.client.store.members(id)!.find((m) => m.user.id === joiner.user.id)!.online, 'the joiner shows online');
    await ownerApi.updateMember(id, joiner.user.id, { role: 'admin' });
    await waitFor(() => o.client.store.members(id)!.find((m) => m.user.id === joiner.user.id)!.role === 'admin', 'the promotion shows');
    await j.client.loadMembers(id);
    assert.deepEqual(j.client.store.members(id)!.map((m) => [m.user.id, m.role]), o.client.store.members(id)!.map((m) => [m.user.id, m.role]));
    await new ChatterApi({ baseUrl: server.url, token: joiner.token }).leaveRoom(id);
    await waitFor(() => o.client.store.members(id)?.length === 1, 'the leaver is gone');
  });

  test('members dropped with a room the server could not bring up to date (resume_gap) are loaded again by themselves', async () => {
    const [owner, other] = await Promise.all([server.register(uniqueName('ro')), server.register(uniqueName('rx'))]);
    const ownerApi = new ChatterApi({ baseUrl: server.url, token: owner.token });
    const id = (await ownerApi.createRoom({ name: uniqueName('team'), visibility: 'public' })).room.id;
    const o = client(owner.token);
    await online(o);
    await waitFor(() => o.client.store.room(id) !== null, 'the owner holds the room');
    await o.client.loadMembers(id);
    // Offline while someone joins and more happens than the server replays: resume_gap, the room
    // is reset (its members with it, as the join is not replayed) and they are loaded again.
    o.client.close();
    await new ChatterApi({ baseUrl: server.url, token: other.token }).joinRoom(id);
    const rows = Array.from({ length: LIMITS.resumeMaxEvents + 1 }, (_, i) => ({ roomId: id, authorId: owner.user.id, clientId: `gap-${i}`, text: `m${i}`, createdAt: Date.now() }));
    await storeMessages(server, rows);
    o.client.connect();
    await waitFor(() => o.resets.includes(id), 'the room was reset');
    await waitFor(() => o.client.store.members(id)?.length === 2, 'members loaded again');
    assert.deepEqual(o.client.store.members(id)!.map((m) => m.user.id).sort(), [owner.user.id, other.user.id].sort());
  });

  test('a notification level set on one device reaches the others at once, and a device that was away gets it on reconnecting', async () => {
    const user = await server.register(uniqueName('nl'));
    const phone = client(user.token);
    const desktop = client(user.token);
    await online(phone, desktop);
    assert.equal(desktop.client.store.room('general')!.info.notify, 'mentions', 'a channel defaults to mentions');
    await phone.client.setNotify('general', 'none');
    assert.equal(phone.client.store.room('general')!.info.notify, 'none', 'the device that set it shows it at once');
    await waitFor(() => desktop.client.store.room('general')!.info.notify === 'none', 'the other device follows live');

    desktop.client.close();
    await phone.client.setNotify('general', 'all');
    assert.equal(desktop.client.store.room('general')!.info.notify, 'none', 'offline: nothing arrived');
    desktop.client.connect();
    await waitFor(() => desktop.client.status === 'online', 'back online');
    assert.equal(desktop.client.store.room('general')!.info.notify, 'all', 'hello carries the level');
  });
});
