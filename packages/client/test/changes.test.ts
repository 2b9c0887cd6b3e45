/**
 * Protocol 2 changes through the SDK against a real server: edits, deletes and reactions live and
 * after an absence, read positions across one user's devices, typing.
 */
import { startTestServer, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { ChatterApi, type RoomView } from '../src/index.js';
import { closeAllClients, recordClient, uniqueName, waitFor, type Recorded } from './helpers.js';

/** What a user sees of general, without object identities: equal states compare equal. */
function shown(rec: Recorded) {
  const view = rec.client.store.room('general') as RoomView;
  return view.messages.map((m) => ({ id: m.id, text: m.text, editedAt: m.editedAt, deleted: m.deleted, reactions: m.reactions, version: m.version }));
}

async function online(...recs: Recorded[]): Promise<void> {
  for (const r of recs) r.client.connect();
  await waitFor(() => recs.every((r) => r.client.status === 'online' && r.client.store.room('general')?.loaded), 'online with general loaded');
}

describe('SDK: message changes, read state and typing', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
  });
  after(() => server.close());
  afterEach(() => closeAllClients());

  test('an edit, a reaction and a delete reach everyone live; a deleted unread message stops counting', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('ea')), server.register(uniqueName('eb'))]);
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token);
    await online(a, b);
    const unreadBefore = b.client.store.room('general')!.info.unread;
    a.client.send('general', 'frist');
    await waitFor(() => b.view().some((m) => m.text === 'frist'), 'bob sees it');
    assert.equal(b.client.store.room('general')!.info.unread, unreadBefore + 1, "someone else's message is unread");
    const id = b.view().find((m) => m.text === 'frist')!.id;

    a.client.edit('general', id, 'first');
    await waitFor(() => b.client.store.message(id)?.text === 'first', 'bob sees the edit');
    assert.ok(b.client.store.message(id)!.editedAt, 'with the time of the edit');

    b.client.react('general', id, '👍');
    await waitFor(() => a.client.store.message(id)?.reactions.length === 1, 'alice sees the reaction');
    assert.deepEqual(a.client.store.message(id)!.reactions, [{ emoji: '👍', count: 1, users: [bob.user.id] }]);
    b.client.react('general', id, '👍'); // already there: nothing changes, and the outbox still empties
    await waitFor(() => b.client.pending().length === 0, "bob's outbox empty");

    a.client.delete('general', id);
    await waitFor(() => b.client.store.message(id)?.deleted === true, 'bob sees the tombstone');
    const gone = b.client.store.message(id)!;
    assert.deepEqual([gone.text, gone.reactions], ['', []]);
    assert.equal(b.client.store.room('general')!.info.unread, unreadBefore, 'the deleted message no longer counts');
    await waitFor(() => a.client.pending().length === 0, "alice's outbox empty");
    assert.deepEqual(shown(a), shown(b), 'both see the same room');
  });

  test('a client away during edits, reactions and deletes comes back to the same state as one that stayed', async () => {
    const [alice, carol] = await Promise.all([server.register(uniqueName('ra')), server.register(uniqueName('rc'))]);
    const a = recordClient(server.url, alice.token);
    const c = recordClient(server.url, carol.token);
    await online(a, c);
    for (const t of ['one', 'two', 'three']) a.client.send('general', t);
    await waitFor(() => c.view().some((m) => m.text === 'three'), 'carol has all three');
    const [one, two, three] = ['one', 'two', 'three'].map((t) => c.view().find((m) => m.text === t)!.id) as [number, number, number];
    c.client.close();

    a.client.edit('general', one, 'one, edited');
    a.client.react('general', two, '🎉');
    a.client.react('general', three, '👀');
    a.client.react('general', three, '👀', false);
    a.client.delete('general', two);
    a.client.send('general', 'four');
    await waitFor(() => a.client.pending().length === 0 && a.view().some((m) => m.text === 'four'), 'alice done');

    c.client.connect();
    await waitFor(() => c.view().some((m) => m.text === 'four'), 'carol resumed');
    assert.deepEqual(c.resets, ['general'], 'resumed from the log, not reloaded');
    const fresh = recordClient(server.url, carol.token);
    await online(fresh);
    const mine = (r: Recorded) => shown(r).filter((m) => [one, two, three].includes(m.id) || m.text === 'four');
    assert.deepEqual(mine(c), mine(fresh), 'the resumed client equals a fresh one');
    assert.deepEqual(mine(c).map((m) => [m.text, m.deleted, m.reactions.length]), [
      ['one, edited', false, 0],
      ['', true, 0],
      ['three', false, 0],
      ['four', false, 0],
    ]);
  });

  test('reading on one device clears the count on the other', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('da')), server.register(uniqueName('db'))]);
    const a = recordClient(server.url, alice.token);
    const phone = recordClient(server.url, bob.token);
    const desktop = recordClient(server.url, bob.token);
    await online(a, phone, desktop);
    a.client.send('general', 'are you there?');
    await waitFor(() => desktop.view().some((m) => m.text === 'are you there?') && desktop.client.store.room('general')!.info.unread > 0, 'unread on the desktop');
    phone.client.markRead('general');
    await waitFor(() => desktop.client.store.room('general')!.info.unread === 0, 'the desktop badge clears');
    assert.equal(desktop.client.store.room('general')!.info.readSeq, phone.client.store.room('general')!.info.readSeq);
  });

  test('a read lost with its socket is sent again after reconnecting, until the server confirms it', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('la')), server.register(uniqueName('lb'))]);
    /** Swallows the next `read` frame and cuts the connection right after, as a drop in flight would. */
    let loseNextRead = false;
    class LossySocket extends WebSocket {
      override send(data: string, ...rest: unknown[]): void {
        if (loseNextRead && data.includes('"type":"read"')) {
          loseNextRead = false;
          this.terminate();
          return;
        }
        (super.send as (data: string, ...rest: unknown[]) => void)(data, ...rest);
      }
    }
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token, { WebSocket: LossySocket as never });
    await online(a, b);
    a.client.send('general', 'read me');
    await waitFor(() => b.view().some((m) => m.text === 'read me'), 'the message at bob');
    const seq = b.client.store.applied('general');
    loseNextRead = true;
    b.client.markRead('general');
    await waitFor(() => b.statuses.some((s) => s.status === 'reconnecting'), 'the drop');
    await waitFor(() => b.client.status === 'online', 'back online');
    // The server's position is what a fresh device sees: it must be the one read before the drop.
    const fresh = recordClient(server.url, bob.token);
    await online(fresh);
    await waitFor(() => fresh.client.store.room('general')!.info.readSeq >= seq, `the server's read position reaching ${seq}`);
    assert.equal(b.client.store.room('general')!.info.unread, 0);
  });

  test('typing shows to the others and stops with that user\'s next message', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('ta')), server.register(uniqueName('tb'))]);
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token);
    await online(a, b);
    a.client.typing('general');
    await waitFor(() => b.client.store.room('general')!.typing.some((u) => u.id === alice.user.id), 'bob sees alice typing');
    assert.deepEqual(a.client.store.room('general')!.typing, [], 'not shown to oneself');
    a.client.send('general', 'done typing');
    await waitFor(() => b.view().some((m) => m.text === 'done typing'), 'the message arrives');
    assert.deepEqual(b.client.store.room('general')!.typing, [], 'cleared by the message');
  });

  test('a room entered by a REST answer is held at once, by name, before its room_joined; the server\'s state then replaces it', async () => {
    const alice = await server.register(uniqueName('ja'));
    const a = recordClient(server.url, alice.token);
    const api = new ChatterApi({ baseUrl: server.url, token: alice.token });
    // Not connected: no room_joined can come before the answer is used (on a loaded machine it can come long after).
    const res = await api.createRoom({ name: 'Answered', visibility: 'public' });
    a.client.joined(res);
    const held = a.client.store.room(res.room.id);
    assert.equal(held?.info.name, 'Answered', 'held by name, so a screen opening it never shows only its id');
    assert.equal(held.info.role, 'owner');
    assert.equal(held.loaded, false, 'its messages are loaded as for any room');
    a.client.joined({ ...res, room: { ...res.room, name: 'stale answer' } });
    assert.equal(a.client.store.room(res.room.id)?.info.name, 'Answered', 'a room held already is not overwritten by an answer');

    await online(a);
    const mine = (await api.rooms()).rooms.find((r) => r.id === res.room.id)!;
    assert.deepEqual(a.client.store.room(res.room.id)?.info, mine, "the hello's state replaces the answer's");
    const other = await api.createRoom({ name: 'Unjoined', visibility: 'public' });
    const bob = await server.register(uniqueName('jb'));
    const b = recordClient(server.url, bob.token);
    // An answer without membership (a public room previewed) holds nothing.
    b.client.joined(await new ChatterApi({ baseUrl: server.url, token: bob.token }).room(other.room.id));
    assert.equal(b.client.store.room(other.room.id), null);
  });

  test('rooms: joined, renamed and left live; a change in one room never wakes another room\'s subscribers', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('ma')), server.register(uniqueName('mb'))]);
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token);
    await online(a, b);
    const { room } = await new ChatterApi({ baseUrl: server.url, token: alice.token }).createRoom({ name: 'Side room', visibility: 'public' });
    await waitFor(() => a.client.store.room(room.id) !== null, 'alice has her new room');
    const bobApi = new ChatterApi({ baseUrl: server.url, token: bob.token });
    await bobApi.joinRoom(room.id);
    await waitFor(() => b.client.store.room(room.id) !== null, 'room_joined reaches bob');
    await waitFor(() => a.client.store.room(room.id)!.timeline.some((i) => i.kind === 'membership'), 'alice sees bob join');

    // Subscribers of general hear nothing of the side room; the room list only of its summary.
    await b.client.loadRoom(room.id);
    // Every wake of general's subscribers must come with a change in general (presence may
    // legitimately change it meanwhile; a wake with nothing changed is another room's leak).
    const general = () => {
      const v = b.client.store.room('general')!;
      return JSON.stringify([v.info, v.messages.map((m) => [m.id, m.version]), v.online.map((u) => u.id), v.onlineCount, v.typing.map((u) => u.id), v.pending.length]);
    };
    let last = general();
    const idleWakes: string[] = [];
    b.client.store.subscribeRoom('general', () => {
      const now = general();
      if (now === last) idleWakes.push(now);
      last = now;
    });
    a.client.send(room.id, 'in the side room');
    await waitFor(() => b.view(room.id).some((m) => m.text === 'in the side room'), 'bob gets it');
    const id = b.view(room.id).find((m) => m.text === 'in the side room')!.id;
    const listBefore = b.client.store.rooms();
    a.client.react(room.id, id, '👍');
    await waitFor(() => b.client.store.message(id)?.reactions.length === 1, 'bob sees the reaction');
    assert.equal(b.client.store.rooms(), listBefore, 'a reaction leaves the room list alone');
    // Proved with a later marker in general: it arrives, and only it woke general's subscribers.
    a.client.send('general', 'marker in general');
    await waitFor(() => b.view().some((m) => m.text === 'marker in general'), 'the marker arrives');
    assert.deepEqual(idleWakes, [], 'general woke only when general changed');

    await new ChatterApi({ baseUrl: server.url, token: alice.token }).updateRoom(room.id, { name: 'Renamed', topic: 'now with a topic' });
    await waitFor(() => b.client.store.room(room.id)?.info.name === 'Renamed', 'bob sees the new name');
    assert.equal(b.client.store.room(room.id)!.info.topic, 'now with a topic');

    await bobApi.leaveRoom(room.id);
    await waitFor(() => b.client.store.room(room.id) === null, 'room_left: the room is gone from bob\'s store');
    assert.equal(b.client.store.message(id), undefined, 'with its messages');
    await waitFor(() => a.client.store.room(room.id)!.info.memberCount === 1, 'alice sees him go');
  });
});
