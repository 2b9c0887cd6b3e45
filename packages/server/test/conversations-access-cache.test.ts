import type { ServerFrame } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call } from './http-helpers.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/*
 * The actions layer remembers who may write where (AccessCache), so that a send does not read the
 * room and the member each time. What it remembered must be gone by the next frame after a
 * removal, a role change or an archive: each test first makes the user write (so the answer is
 * remembered), changes their access over REST, and checks the very next frame.
 */
describe('remembered access', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const api = (user: TestUser, method: string, path: string, json?: unknown) => call(server.url, method, path, { token: user.token, json });
  let n = 0;

  /** The ack or the error answering a change frame. */
  async function answer(s: TestSocket, body: Record<string, unknown>): Promise<Extract<ServerFrame, { type: 'ack' | 'error' }>> {
    const clientId = `cache-${++n}`;
    s.send({ ...body, clientId });
    return Promise.race([s.next('ack', (a) => a.clientId === clientId), s.next('error', (e) => e.ref === clientId)]);
  }

  /** A private room of `owner` with `others` in it, and a socket for each. */
  async function room(owner: TestUser, ...others: TestUser[]): Promise<string> {
    const id = (await api(owner, 'POST', '/api/rooms', { name: uniqueName('cache'), visibility: 'private' })).body.room.id as string;
    for (const u of others) assert.equal((await api(owner, 'POST', `/api/rooms/${id}/members`, { userId: u.user.id })).status, 200);
    return id;
  }

  async function sockets(...users: TestUser[]): Promise<TestSocket[]> {
    const list = users.map((u) => connect(server.wsUrl, { token: u.token, params: { history: '0' } }));
    await Promise.all(list.map((s) => s.next('hello')));
    return list;
  }

  test('a member removed from a private room is refused on the next send and typing, as one who never was in it', async () => {
    const [owner, member, witness] = await Promise.all(['owner', 'member', 'witness'].map((u) => server.register(uniqueName(u))));
    const id = await room(owner!, member!, witness!);
    const [ownerWs, memberWs, witnessWs] = await sockets(owner!, member!, witness!);
    assert.equal((await answer(memberWs!, { type: 'send', room: id, text: 'while a member' })).type, 'ack');
    memberWs!.send({ type: 'typing', room: id });
    await witnessWs!.next('typing', (f) => f.room === id && f.user.id === member!.user.id);

    assert.equal((await api(owner!, 'DELETE', `/api/rooms/${id}/members/${member!.user.id}`)).status, 200);
    const refused = await answer(memberWs!, { type: 'send', room: id, text: 'after the removal' });
    assert.equal(refused.type === 'error' && refused.code, 'room_not_found');

    const from = memberWs!.frames.length;
    memberWs!.send({ type: 'typing', room: id });
    assert.equal((await memberWs!.next('error', (e) => memberWs!.frames.indexOf(e) >= from)).code, 'room_not_found');
    // Nothing of the removed member reached the room: the witness has the owner's later message and no second typing notice.
    assert.equal((await answer(ownerWs!, { type: 'send', room: id, text: 'marker' })).type, 'ack');
    await witnessWs!.nextMessage((m) => m.text === 'marker');
    assert.equal(witnessWs!.all('typing').filter((f) => f.user.id === member!.user.id).length, 1);
    assert.deepEqual(witnessWs!.messages().map((m) => m.text), ['while a member', 'marker']);
    await Promise.all([ownerWs!.close(), memberWs!.close(), witnessWs!.close()]);
  });

  test('an admin made a member again cannot delete others\' messages on the next frame', async () => {
    const [owner, admin, author] = await Promise.all(['owner', 'admin', 'author'].map((u) => server.register(uniqueName(u))));
    const id = await room(owner!, admin!, author!);
    assert.equal((await api(owner!, 'PATCH', `/api/rooms/${id}/members/${admin!.user.id}`, { role: 'admin' })).status, 200);
    const [adminWs, authorWs] = await sockets(admin!, author!);
    const first = await answer(authorWs!, { type: 'send', room: id, text: 'one' });
    const second = await answer(authorWs!, { type: 'send', room: id, text: 'two' });
    assert.ok(first.type === 'ack' && second.type === 'ack');
    // As an admin: deleting the author's first message is allowed (and remembered).
    assert.equal((await answer(adminWs!, { type: 'delete', room: id, messageId: first.messageId })).type, 'ack');

    assert.equal((await api(owner!, 'PATCH', `/api/rooms/${id}/members/${admin!.user.id}`, { role: 'member' })).status, 200);
    const refused = await answer(adminWs!, { type: 'delete', room: id, messageId: second.messageId });
    assert.equal(refused.type === 'error' && refused.code, 'forbidden');
    await Promise.all([adminWs!.close(), authorWs!.close()]);
  });

  test('in a room archived meanwhile, typing is refused at once', async () => {
    const [owner, member] = await Promise.all(['owner', 'member'].map((u) => server.register(uniqueName(u))));
    const id = await room(owner!, member!);
    const [memberWs] = await sockets(member!);
    assert.equal((await answer(memberWs!, { type: 'send', room: id, text: 'before the archive' })).type, 'ack');
    assert.equal((await api(owner!, 'PATCH', `/api/rooms/${id}`, { archived: true })).status, 200);
    const from = memberWs!.frames.length;
    memberWs!.send({ type: 'typing', room: id });
    assert.equal((await memberWs!.next('error', (e) => memberWs!.frames.indexOf(e) >= from)).code, 'room_archived');
    const refused = await answer(memberWs!, { type: 'send', room: id, text: 'after the archive' });
    assert.equal(refused.type === 'error' && refused.code, 'room_archived');
    await memberWs!.close();
  });
});
