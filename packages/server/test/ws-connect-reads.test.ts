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
function countingStore(methods: ('getRoom' | 'getMember' | 'getEvents')[]): { store: SqliteStore; dataDir: string; calls: Map<string, number> } {
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
  test('reads no log for a room with nothing after the seq the client holds, and answers it with an empty replay', async () => {
    const { store, dataDir } = countingStore([]);
    const logsRead: string[] = [];
    const getEvents = store.getEvents.bind(store);
    store.getEvents = (roomId, range) => {
      logsRead.push(roomId);
      return getEvents(roomId, range);
    };
    const server = await startTestServer({ dataDir, roomCreatesPerHour: 100 }, { store });
    try {
      const ana = await server.register(uniqueName('ana'));
      const rooms: string[] = [];
      for (let i = 0; i < 3; i++) rooms.push((await call(server.url, 'POST', '/api/rooms', { token: ana.token, json: { name: uniqueName('r'), visibility: 'public' } })).body.room.id as string);
      const a = connect(server.wsUrl, { token: ana.token, params: { history: '0' } });
      const hello = await a.next('hello');
      const held = new Map(hello.rooms.map((r) => [r.id, r.lastSeq]));
      a.send({ type: 'send', room: rooms[0], clientId: 'new', text: 'one new' });
      await a.next('ack', (f) => f.clientId === 'new');
      await a.close();
      logsRead.length = 0;
      // Up to date in every room but the first, where one message is new.
      const resume = [...rooms, DEFAULT_ROOM].map((r) => `${r}:${held.get(r)}`).join(',');
      const back = connect(server.wsUrl, { token: ana.token, params: { history: '0', resume } });
      const first = await back.next('events', (f) => f.room === rooms[0]);
      assert.deepEqual(first.events.map((e) => e.kind === 'message_created' && e.message.text), ['one new']);
      for (const room of [...rooms.slice(1), DEFAULT_ROOM]) {
        const reply = await back.next('events', (f) => f.room === room);
        assert.deepEqual({ after: reply.after, through: reply.through, events: reply.events, hasMore: reply.hasMore, reason: reply.reason }, { after: held.get(room), through: held.get(room), events: [], hasMore: false, reason: 'resume' });
      }
      // The one room with something new was read; the others were answered from the hello's lastSeq.
      assert.deepEqual([...new Set(logsRead)], [rooms[0]]);
      // A later message in an up-to-date room still arrives live, once.
      const other = connect(server.wsUrl, { token: ana.token, params: { history: '0' } });
      await other.next('hello');
      other.send({ type: 'send', room: rooms[1], clientId: 'later', text: 'later' });
      assert.equal((await back.nextMessage((m) => m.text === 'later')).text, 'later');
      assert.deepEqual([...new Set(logsRead)], [rooms[0]], 'and reading no log for the others');
      await Promise.all([back.close(), other.close()]);
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
