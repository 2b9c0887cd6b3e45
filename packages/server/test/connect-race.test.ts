import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../src/storage/sqlite.js';
import { startTestServer } from '../src/testing.js';
import { connect, uniqueName } from './wsclient.js';

/**
 * A real SQLite store whose next `listUserRooms` (once armed) waits for the test to open the gate,
 * reading `after` the wait or before it (the answer of a networked database, already stale when it
 * arrives). A double at our own seam; with SQLite's synchronous store these windows are empty.
 */
function gatedRoomsStore(): { store: SqliteStore; dataDir: string; arm(read: 'before' | 'after'): { waiting: Promise<void>; open(): void } } {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatter-gated-'));
  const store = new SqliteStore({ file: join(dataDir, 'chatter.db') });
  const original = store.listUserRooms.bind(store);
  let armed: { read: 'before' | 'after'; waiting: () => void; gate: Promise<void> } | null = null;
  store.listUserRooms = async (userId, countCap) => {
    const gated = armed;
    armed = null;
    if (!gated) return original(userId, countCap);
    const rooms = gated.read === 'before' ? await original(userId, countCap) : null;
    gated.waiting();
    await gated.gate;
    return rooms ?? original(userId, countCap);
  };
  return {
    store,
    dataDir,
    arm(read) {
      let waiting!: () => void;
      let open!: () => void;
      const entered = new Promise<void>((r) => (waiting = r));
      armed = { read, waiting, gate: new Promise<void>((r) => (open = r)) };
      return { waiting: entered, open };
    },
  };
}

for (const read of ['before', 'after'] as const) {
  const when = read === 'before' ? "while a connecting socket's rooms are read and on their way back" : 'while a connecting socket waits to read its rooms';
  test(`a message committed ${when} reaches it exactly once`, async () => {
    const { store, dataDir, arm } = gatedRoomsStore();
    const server = await startTestServer({ dataDir, messagesPerSecond: 1000, messageBurst: 1000 }, { store });
    try {
      const writer = await server.register(uniqueName('writer'));
      const reader = await server.register(uniqueName('reader'));
      const w = connect(server.wsUrl, { token: writer.token, params: { history: '0' } });
      await w.next('hello');

      // The reader connects with nothing to resume and no history: only hello and live events tell it.
      const gate = arm(read);
      const r = connect(server.wsUrl, { token: reader.token, params: { history: '0' } });
      await gate.waiting;
      w.send({ type: 'send', room: 'general', clientId: 'in-window', text: 'committed in the window' });
      const during = await w.next('ack', (a) => a.clientId === 'in-window');
      gate.open();
      const general = (await r.next('hello')).rooms.find((room) => room.id === 'general')!;

      // A later marker: everything before it has arrived by then.
      w.send({ type: 'send', room: 'general', clientId: 'marker', text: 'marker' });
      await r.nextMessage((m) => m.clientId === 'marker');
      if (read === 'before') {
        assert.ok(general.lastSeq < during.seq!, 'hello predates the message');
        assert.deepEqual(r.messages().map((m) => m.clientId), ['in-window', 'marker'], 'so it arrives live, before the marker, once');
      } else {
        assert.ok(general.lastSeq >= during.seq!, 'hello includes the message (its lastSeq, its counts)');
        assert.equal(general.unread, 1, 'counted once');
        assert.deepEqual(r.messages().map((m) => m.clientId), ['marker'], 'so it is not sent again live');
      }
      await Promise.all([r.close(), w.close()]);
    } finally {
      await server.close();
    }
  });
}
