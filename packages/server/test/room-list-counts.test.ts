/**
 * The room list's unread and mention counts on SQLite: exact up to the cap, and read by the list's
 * one statement whatever the room's log holds, so that a `hello` costs the same for every member of
 * a room with a long log of joins (`general`) as for a room of ten.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeResult, RoomChange } from '../src/storage/types.js';
import { SqliteStore } from '../src/storage/sqlite.js';

const T0 = Date.UTC(2030, 0, 1);

async function setUp(people: number) {
  const store = new SqliteStore({ file: ':memory:' });
  await store.migrate();
  await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
  const users = [];
  for (let i = 0; i < people; i++) users.push(await store.createUser({ username: `user${i}`, email: null, passwordHash: 'x', createdAt: T0 }));
  const apply = async (changes: RoomChange[]) => {
    const results: ChangeResult[] = await store.applyChanges(changes);
    for (const r of results) assert.ok(r.ok, JSON.stringify(r));
    return results;
  };
  await apply(users.map((u) => ({ kind: 'member_joined', roomId: 'general', actorId: u.id, clientId: null, at: T0, userId: u.id, role: 'member' })));
  let n = 0;
  const send = (authorId: number, mentions: number[] = []): RoomChange => ({ kind: 'message_created', roomId: 'general', actorId: authorId, clientId: `m${n++}`, at: T0, text: 'hi', mentions });
  return { store, users, apply, send };
}

/** Statements of the store other than the room list's own, run while `fn` runs. */
async function otherStatements(store: SqliteStore, fn: () => Promise<unknown>): Promise<string[]> {
  const stmts = (store as unknown as { stmts: Record<string, Record<string, (...a: unknown[]) => unknown>> }).stmts;
  const ran: string[] = [];
  const saved = new Map<string, Record<string, unknown>>();
  for (const [name, stmt] of Object.entries(stmts)) {
    if (name === 'userRooms' || name === 'userRoom') continue;
    saved.set(name, stmt);
    stmts[name] = new Proxy(stmt, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== 'function' || !['get', 'all', 'run', 'iterate'].includes(String(key))) return value;
        return (...args: unknown[]) => {
          ran.push(name);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
  try {
    await fn();
  } finally {
    for (const [name, stmt] of saved) stmts[name] = stmt as Record<string, (...a: unknown[]) => unknown>;
  }
  return ran;
}

test("a room whose log is mostly joins is counted by the room list's one statement, exactly", async () => {
  // 30 people join, then 2 messages (one mentions the first): the first to join is 31 events behind,
  // far more than a cap of 4, yet only 2 of those events are messages.
  const { store, users, apply, send } = await setUp(30);
  const [first, last] = [users[0]!, users.at(-1)!];
  await apply([send(last.id, [first.id]), send(last.id)]);
  let rooms: Awaited<ReturnType<SqliteStore['listUserRooms']>> = [];
  const ran = await otherStatements(store, async () => {
    rooms = await store.listUserRooms(first.id, 4);
  });
  assert.deepEqual(rooms.map((r) => [r.room.id, r.unread, r.mentions]), [['general', 2, 1]]);
  assert.deepEqual(ran, [], 'no statement but the list itself');
  const ranOne = await otherStatements(store, async () => {
    const one = await store.getUserRoom(first.id, 'general', 4);
    assert.deepEqual([one?.unread, one?.mentions], [2, 1]);
  });
  assert.deepEqual(ranOne, []);
});

test('counts far behind are exact below the cap and the cap above it, around the boundary', async () => {
  const { store, users, apply, send } = await setUp(3);
  const [reader, other] = [users[0]!, users[1]!];
  const counts = async (cap: number) => {
    const list = (await store.listUserRooms(reader.id, cap))[0];
    const one = await store.getUserRoom(reader.id, 'general', cap);
    assert.deepEqual([one?.unread, one?.mentions], [list?.unread, list?.mentions], 'the list and the one room agree');
    return [list?.unread, list?.mentions];
  };
  // The reader's own messages (even mentioning themself) and deleted ones never count, but do
  // lengthen the log: 10 own first, so that every later room is far behind in events.
  await apply(Array.from({ length: 10 }, () => send(reader.id, [reader.id])));
  const sent = await apply([send(other.id, [reader.id]), send(other.id, [reader.id]), send(other.id, [reader.id])]);
  assert.deepEqual(await counts(3), [3, 3], 'exactly the cap');
  assert.deepEqual(await counts(4), [3, 3], 'one under the cap');
  assert.deepEqual(await counts(2), [2, 2], 'one over the cap');
  const gone = sent[2]!.ok ? sent[2]!.message!.id : 0;
  await apply([{ kind: 'message_deleted', roomId: 'general', actorId: other.id, clientId: null, at: T0, messageId: gone }]);
  assert.deepEqual(await counts(2), [2, 2], 'at the cap once one is deleted');
  assert.deepEqual(await counts(1), [1, 1]);
  await apply([send(other.id)]);
  assert.deepEqual(await counts(3), [3, 2], 'mentions are counted on their own');
  assert.deepEqual(await counts(0), [0, 0]);
  assert.deepEqual(await counts(999), [3, 2]);
});
