// What one connect with `resume` reads from the store. Every client of a reconnect storm takes this
// path, so each read per resumed room is paid tens of thousands of times at once: the rooms read for
// `hello` must answer, for each room resumed, what `access` would (a member; the room's lastSeq).
import { DEFAULT_ROOM } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SqliteStore } from '../src/storage/sqlite.js';
import { startTestServer } from '../src/testing.js';
import { call } from './http-helpers.js';
import { connect, uniqueName } from './wsclient.js';

/** A real SQLite store that counts calls of some of its methods: a double at our own seam. */
function countingStore(methods: ('getRoom' | 'getMember')[]): { store: SqliteStore; dataDir: string; calls: Map<string, number> } {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatter-count-'));
  const store = new SqliteStore({ file: join(dataDir, 'chatter.db') });
  const calls = new Map<string, number>();
  for (const method of methods) {
    const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls.set(method, (calls.get(method) ?? 0) + 1);
      return original(...args);
    };
  }
  return { store, dataDir, calls };
}

describe('a connect with resume', () => {
  test('reads no room and no membership per resumed room, and answers every room as before', async () => {
    const { store, dataDir, calls } = countingStore(['getRoom', 'getMember']);
    const server = await startTestServer({ dataDir, roomCreatesPerHour: 100, messagesPerSecond: 1000, messageBurst: 1000 }, { store });
    try {
      const ana = await server.register(uniqueName('ana'));
      const bo = await server.register(uniqueName('bo'));
      const rooms: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await call(server.url, 'POST', '/api/rooms', { token: ana.token, json: { name: uniqueName('r'), visibility: 'private' } });
        assert.equal(res.status, 201, res.text);
        rooms.push(res.body.room.id as string);
      }
      const other = await call(server.url, 'POST', '/api/rooms', { token: bo.token, json: { name: uniqueName('theirs'), visibility: 'private' } });
      const a = connect(server.wsUrl, { token: ana.token, params: { history: '0' } });
      await a.next('hello');
      for (const room of rooms) {
        a.send({ type: 'send', room, clientId: `m-${room}`, text: `hello ${room}` });
        await a.next('ack', (f) => f.clientId === `m-${room}`);
      }
      await a.close();
      calls.clear();
      // Every room from the start, and one the user may not see, in one connect.
      const resume = [...rooms, DEFAULT_ROOM].map((r) => `${r}:0`).concat(`${other.body.room.id}:0`).join(',');
      const back = connect(server.wsUrl, { token: ana.token, params: { history: '0', resume } });
      for (const room of [...rooms, DEFAULT_ROOM]) {
        const reply = await back.next('events', (f) => f.room === room);
        assert.equal(reply.reason, 'resume');
        if (room !== DEFAULT_ROOM) assert.deepEqual(reply.events.map((e) => e.kind), ['room_created', 'member_joined', 'message_created']);
      }
      const refused = await back.next('error', (f) => f.code === 'room_not_found');
      assert.deepEqual(refused.details, { rooms: [other.body.room.id], count: 1 });
      // The one room asked about is the one not in the user's list.
      assert.deepEqual(Object.fromEntries(calls), { getRoom: 1, getMember: 1 });
      await back.close();
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
