import type { PublicUser, TypingNoticeFrame } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { InProcessBus } from '../src/bus/memory.js';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/**
 * A room with more sockets than `fanoutChunk` is written over several event-loop turns, so other
 * rooms are not held up for its whole round. The tests drive the hub through the server's real bus
 * (the seam every node's events arrive by), which lets them put two rooms' frames in one turn, or
 * change a membership between two turns of a round; the sockets are real clients of a real server.
 */
describe('a large room is written over several turns', () => {
  let server: TestServer | undefined;
  let sockets: TestSocket[] = [];
  let bus: InProcessBus;
  let users: TestUser[] = [];

  /** A server writing `chunk` sockets per turn, and `count` users connected one after another (so `general` holds their sockets in that order). */
  async function start(chunk: number, count: number): Promise<void> {
    bus = new InProcessBus();
    server = await startTestServer({ fanoutChunk: chunk, presenceIntervalMs: 60_000 }, { bus });
    users = await Promise.all(Array.from({ length: count }, () => server!.register(uniqueName('round'))));
    sockets = [];
    for (const u of users) {
      const s = connect(server.wsUrl, { token: u.token, params: { history: '0' } });
      await s.next('hello');
      sockets.push(s);
    }
  }
  afterEach(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await server?.close();
    server = undefined;
  });

  const author = (u: TestUser): PublicUser => ({ id: u.user.id, username: u.user.username, avatarUrl: u.user.avatarUrl });
  const typing = (room: string, u: TestUser): string => JSON.stringify({ type: 'typing', room, user: author(u), expiresInMs: 5000 } satisfies TypingNoticeFrame);
  /** The rooms of the typing notices a socket received, in order. */
  const typingRooms = (s: TestSocket): string[] => s.all('typing').map((f) => f.room);

  /**
   * The last socket is also in a small room. Both rooms get a frame in the same turn, `general`
   * first: written whole, `general` reaches every socket before the small room's frame goes out;
   * in rounds of 2, the small room's frame is written in the first turn and the last socket's
   * `general` frame two turns later.
   */
  for (const [chunk, expected] of [
    [2, ['side', 'general']],
    [1000, ['general', 'side']],
  ] as const) {
    test(`with ${chunk} sockets per turn, the last of 5 sockets gets the frames of the two rooms in the order [${expected.join(', ')}]`, async () => {
      await start(chunk, 5);
      const last = sockets[4]!;
      const lastUser = users[4]!;
      const side = `side-${chunk}`;
      bus.publish({ kind: 'membership', room: side, userId: lastUser.user.id, joined: true });
      bus.publish({ kind: 'room', room: 'general', frame: typing('general', users[0]!) });
      bus.publish({ kind: 'room', room: side, frame: typing(side, lastUser) });
      await last.waitCount('typing', 2);
      await Promise.all(sockets.slice(0, 4).map((s) => s.next('typing', (f) => f.room === 'general')));
      assert.deepEqual(typingRooms(last), expected.map((r) => (r === 'side' ? side : r)));
      // Each of the others got general's frame once, and nothing of the small room.
      for (const s of sockets.slice(0, 4)) assert.deepEqual(typingRooms(s), ['general']);
    });
  }

  test('a socket that leaves the room between two turns of its round gets none of it; the others get all of it, in order', async () => {
    await start(2, 5);
    const leaver = users[4]!;
    const frames = [typing('general', users[0]!), typing('general', users[1]!)];
    for (const frame of frames) bus.publish({ kind: 'room', room: 'general', frame });
    // The hub's flush was queued by the first publish: this runs right after it, between the
    // round's first turn (sockets 1 and 2) and its second.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        bus.publish({ kind: 'membership', room: 'general', userId: leaver.user.id, joined: false });
        resolve();
      }),
    );
    await Promise.all(sockets.slice(0, 4).map((s) => s.waitCount('typing', 2)));
    for (const s of sockets.slice(0, 4)) assert.deepEqual(s.all('typing').map((f) => f.user.id), [users[0]!.user.id, users[1]!.user.id]);
    // A frame to the leaver alone, written after the round: nothing of the round came before it.
    bus.publish({ kind: 'user', userId: leaver.user.id, frame: typing('marker', leaver) });
    await sockets[4]!.next('typing', (f) => f.room === 'marker');
    assert.deepEqual(typingRooms(sockets[4]!), ['marker']);
  });

  test("a frame arriving while the room's round is under way follows that round on every socket", async () => {
    await start(2, 5);
    bus.publish({ kind: 'room', room: 'general', frame: typing('general', users[0]!) });
    // Between the round's first turn and its second, the room's next frame arrives.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        bus.publish({ kind: 'room', room: 'general', frame: typing('general', users[1]!) });
        resolve();
      }),
    );
    await Promise.all(sockets.map((s) => s.waitCount('typing', 2)));
    const marker = uniqueName('marker');
    for (const u of users) bus.publish({ kind: 'user', userId: u.user.id, frame: typing(marker, u) });
    for (const [i, s] of sockets.entries()) {
      await s.next('typing', (f) => f.room === marker);
      // Both frames once, the first first, and nothing else before the marker.
      const got = s.all('typing').map((f) => `${f.room} ${f.user.id}`);
      assert.deepEqual(got, [`general ${users[0]!.user.id}`, `general ${users[1]!.user.id}`, `${marker} ${users[i]!.user.id}`], `socket ${i + 1}`);
    }
  });

  test('messages sent faster than rounds end reach every socket once, in seq order', async () => {
    await start(2, 6);
    const tag = uniqueName('burst');
    const ids = Array.from({ length: 30 }, (_, n) => `${tag}-${n}`);
    // Three senders at once: batches of several messages, each round of general over 3 turns.
    ids.forEach((clientId, n) => sockets[n % 3]!.send({ type: 'send', room: 'general', clientId, text: clientId }));
    const marker = `${tag}-marker`;
    await Promise.all(ids.map((clientId, n) => sockets[n % 3]!.next('ack', (f) => f.clientId === clientId)));
    sockets[5]!.send({ type: 'send', room: 'general', clientId: marker, text: marker });
    for (const s of sockets) {
      await s.nextMessage((m) => m.clientId === marker);
      const got = s.messages().filter((m) => m.clientId.startsWith(`${tag}-`));
      assert.equal(got.length, ids.length + 1, 'every message once, the marker last');
      assert.equal(got.at(-1)!.clientId, marker);
      const seqs = got.map((m) => m.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
      assert.equal(new Set(seqs).size, seqs.length);
    }
  });
});
