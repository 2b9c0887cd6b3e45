// The many-rooms scenario: its room layout, the multi-room client's resume points, and each peer's
// room routing end to end (every message reaches its room's members, and no one else).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startTarget } from '../lib/targets.mjs';
import { BenchClient } from '../load/clients.mjs';
import { messageEventFrame } from '../load/protocols.mjs';
import rooms, { isMutation, roomsOf, scaledConnections, senderOf } from '../scenarios/rooms.mjs';

describe('the room layout', () => {
  test('each connection is in 3 distinct rooms and each room has 30 members, 10 of them at home', () => {
    for (const roomCount of [30, 50, 1000]) {
      const members = new Array(roomCount).fill(0);
      const home = new Array(roomCount).fill(0);
      for (let i = 0; i < roomCount * 10; i++) {
        const mine = roomsOf(i, roomCount);
        assert.equal(new Set(mine).size, 3, `connection ${i} of ${roomCount} rooms: ${mine}`);
        for (const k of mine) members[k]++;
        home[mine[0]]++;
      }
      assert.ok(members.every((m) => m === 30), `${roomCount} rooms: sizes ${[...new Set(members)]}`);
      assert.ok(home.every((m) => m === 10));
    }
  });

  test('each event is sent by a home member of its room, in turn, and 1 in N is an edit or reaction', () => {
    const seen = new Set();
    for (let n = 0; n < 10 * 50; n++) {
      const sender = senderOf(n, 50);
      assert.equal(roomsOf(sender, 50)[0], n % 50);
      seen.add(sender);
    }
    assert.equal(seen.size, 500, 'every connection sends');
    assert.deepEqual([...Array(3000).keys()].filter((n) => isMutation(n, 1000)), [999, 1999, 2999]);
    assert.equal([...Array(3000).keys()].filter((n) => isMutation(n, 0)).length, 0);
  });
});

describe('the scale', () => {
  test('10,000 connections (500 quick) unless BENCH_ROOMS_CONNECTIONS names another multiple of 10 from 300', () => {
    assert.equal(scaledConnections(false, {}), 10_000);
    assert.equal(scaledConnections(true, {}), 500);
    assert.equal(scaledConnections(false, { BENCH_ROOMS_CONNECTIONS: '2000' }), 2000);
    assert.equal(scaledConnections(true, { BENCH_ROOMS_CONNECTIONS: '' }), 500);
    for (const bad of ['290', '2005', 'many']) assert.throws(() => scaledConnections(false, { BENCH_ROOMS_CONNECTIONS: bad }), /BENCH_ROOMS_CONNECTIONS/);
  });
});

describe('a client of several rooms', () => {
  test('keeps a resume point per room from the message events it reads in place', () => {
    const client = new BenchClient({ kind: 'chatter', host: '127.0.0.1', port: 1 }, { index: 0, rooms: ['a1', 'b2', 'general'] });
    const author = { id: 1, username: 'u', avatarUrl: null };
    const frame = (room: string, seq: number, text = 'hi') => messageEventFrame({ room, seq, at: 'now', author, text, clientId: `c${seq}` });
    const delivered: number[] = [];
    client.onDelivery = (n: number) => delivered.push(n);
    client.ready = true;
    const batch = Buffer.from([frame('b2', 7, 'bm:5:100:'), frame('a1', 3), frame('zz', 99), frame('b2', 6)].join('\n'));
    client.receiveChatter(batch, 0, batch.length);
    assert.deepEqual(client.resumeState(), { a1: 3, b2: 7, general: 0 }, 'a room it does not follow moves nothing');
    assert.deepEqual(delivered, [5]);
    const edit = Buffer.from(JSON.stringify({ type: 'event', event: { kind: 'reaction_added', room: 'general', seq: 12, messageId: 1, emoji: 'x', userId: 1, count: 1 } }));
    client.receiveChatter(edit, 0, edit.length);
    assert.equal(client.resumeState().general, 12);
    assert.equal(client.otherEvents, 1);
  });
});

describe('room routing in the peers', () => {
  const servers: { stop(): Promise<unknown> }[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });
  for (const kind of ['ws-coalesce', 'ws-floor', 'socketio'] as const) {
    test(`${kind}: every message reaches its room's 30 members and no one else`, async () => {
      const server = await startTarget(kind);
      servers.push(server);
      const peerRooms = Array.from({ length: 30 }, (_, k) => `room${k}`);
      const result = await rooms.load(
        { connections: 300, rooms: 30, rate: 60, textLength: 64, warmupMs: 300, windowMs: 1000, drainMs: 3000, connectDeadlineMs: 60_000, maxBackMs: 30_000, mutateEvery: 0 },
        { target: { kind, host: server.host, port: server.port, pid: server.pid }, tokens: [], extra: { peerRooms }, log: () => {} },
      );
      assert.equal(result.ready, 300);
      assert.ok(result.sentInWindow >= 40, `sent ${result.sentInWindow}`);
      assert.equal(result.expectedDeliveries, result.sentInWindow * 30);
      assert.equal(result.receivedDeliveries, result.expectedDeliveries);
      assert.equal(result.duplicates, 0, 'a message went to a connection outside its room, or twice');
      assert.equal(result.deliveredInWindow <= result.expectedDeliveries + 30 * 60, true);
      assert.equal(result.back, 300);
    });
  }
});
