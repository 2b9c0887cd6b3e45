import { DEFAULT_ROOM } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SqliteStore } from '../src/storage/sqlite.js';
import { startTestServer, type TestServer } from '../src/testing.js';
import { connect } from './wsclient.js';

/*
 * A connecting socket's first turn (hello, its rooms' presence, resume replies, and the room traffic
 * held behind them) goes out in one write: in a reconnect storm, syscalls per socket are what the
 * server spends its CPU on.
 */

/** A real store whose room list, when `gate` is set, waits for it (a networked database's would take a while). */
const store = new SqliteStore({ file: join(mkdtempSync(join(tmpdir(), 'chatter-writes-')), 'chatter.db') });
let gate: { reached: () => void; open: Promise<void> } | null = null;
const listUserRooms = store.listUserRooms.bind(store);
store.listUserRooms = async (userId, cap) => {
  const g = gate;
  if (g) {
    gate = null;
    g.reached();
    await g.open;
  }
  return listUserRooms(userId, cap);
};

let server: TestServer;
before(async () => {
  // No presence batch or typing throttle in the way: the test counts every write to one socket.
  server = await startTestServer({ presenceIntervalMs: 60_000, typingForwardMs: 0 }, { store });
});
after(() => server.close());

/** Count the writes (syscalls: `ws` corks its header and payload into one) to the next socket the server accepts. */
function countNextSocketWrites(): () => number {
  let writes = 0;
  server.app.server.once('connection', (socket: Socket) => {
    const s = socket as Socket & { _writeGeneric: (...args: unknown[]) => unknown };
    const original = s._writeGeneric;
    s._writeGeneric = function (this: Socket, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
  });
  return () => writes;
}

test('a connecting socket gets its hello, presence, resume replies and the room traffic held behind them in one write', async () => {
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => server.register(`${n}${Date.now() % 100000}`)));
  const bobWs = connect(server.wsUrl, { token: bob!.token, params: { history: '0' } });
  const carolWs = connect(server.wsUrl, { token: carol!.token, params: { history: '0' } });
  const helloBob = await bobWs.next('hello');
  await carolWs.next('hello');
  const lastSeq = helloBob.rooms.find((r) => r.id === DEFAULT_ROOM)!.lastSeq;

  let reached!: () => void;
  const reachedP = new Promise<void>((r) => (reached = r));
  let open!: () => void;
  gate = { reached, open: new Promise<void>((r) => (open = r)) };
  const writes = countNextSocketWrites();
  const aliceWs = connect(server.wsUrl, { token: alice!.token, params: { history: '0', resume: `${DEFAULT_ROOM}:${lastSeq}` } });
  await reachedP;
  // Alice is in her rooms but her hello is not out: room traffic for her is held, in two batches
  // (carol has seen each typing notice, so each was written to the room, in its own turn).
  bobWs.send({ type: 'typing', room: DEFAULT_ROOM });
  await carolWs.next('typing', (t) => t.user.id === bob!.user.id);
  carolWs.send({ type: 'typing', room: DEFAULT_ROOM });
  await bobWs.next('typing', (t) => t.user.id === carol!.user.id);
  open();

  await aliceWs.next('hello');
  await aliceWs.next('presence', (p) => p.room === DEFAULT_ROOM);
  await aliceWs.next('events', (e) => e.room === DEFAULT_ROOM);
  await aliceWs.next('typing', (t) => t.user.id === bob!.user.id);
  await aliceWs.next('typing', (t) => t.user.id === carol!.user.id);
  assert.equal(writes(), 2, 'the upgrade response, then one write for all the rest');

  // And the frames came in the protocol's order: hello, presence, the resume reply, then live traffic.
  const order = aliceWs.frames.map((f) => f.type).filter((t) => ['hello', 'presence', 'events', 'typing'].includes(t));
  assert.deepEqual(order, ['hello', 'presence', 'events', 'typing', 'typing']);
  await Promise.all([aliceWs.close(), bobWs.close(), carolWs.close()]);
});
