// Presence across lost connections: a user whose connection drops without a close frame is still
// online to the others for `presenceLeaveGraceMs`, so one who comes back within it (a network blip,
// every client of a reconnect storm) is announced neither gone nor back; a close that was meant
// is announced at once.
import { DEFAULT_ROOM, LIMITS } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../src/testing.js';
import { call } from './http-helpers.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/** Resolves once the server has no socket of `userId` left: it has seen the drop. */
async function serverLetGo(server: TestServer, userIds: number[]): Promise<void> {
  const ids = new Set(userIds);
  const gone = () => ![...server.app.gateway.hub.connections].some((c) => ids.has(c.user.id));
  while (!gone()) await new Promise((r) => setImmediate(r));
}

/** Drop the connection the way a lost network does: no close frame (the server sees 1006). */
function drop(socket: TestSocket): Promise<unknown> {
  socket.ws.terminate();
  return socket.closed;
}

describe('presence when a connection is lost', () => {
  test('a user who drops without a close and comes back within the grace is announced neither gone nor back', async () => {
    const server = await startTestServer({ presenceIntervalMs: 10, presenceLeaveGraceMs: 600_000 });
    try {
      const watcher = await server.register(uniqueName('watch'));
      const kim = await server.register(uniqueName('kim'));
      const w = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
      await w.next('hello');
      const k1 = connect(server.wsUrl, { token: kim.token, params: { history: '0' } });
      await w.next('user_joined', (f) => f.user.id === kim.user.id);
      await drop(k1);
      await serverLetGo(server, [kim.user.id]);
      // A later arrival, announced in a later batch than the drop: any departure would come before it.
      const early = await server.register(uniqueName('early'));
      const e = connect(server.wsUrl, { token: early.token, params: { history: '0' } });
      await w.next('user_joined', (f) => f.user.id === early.user.id);
      // To a newcomer, kim is still online (nobody was told otherwise) and `early` is listed: the
      // room's shared snapshot changed with who is online.
      const seen = await e.next('presence');
      assert.ok(seen.users.some((u) => u.id === kim.user.id), 'kim is online until her grace runs out');
      assert.ok(seen.users.some((u) => u.id === early.user.id));
      const k2 = connect(server.wsUrl, { token: kim.token, params: { history: '0' } });
      await k2.next('hello');
      const late = await server.register(uniqueName('late'));
      const l = connect(server.wsUrl, { token: late.token, params: { history: '0' } });
      await w.next('user_joined', (f) => f.user.id === late.user.id);
      assert.equal(w.all('user_left').length, 0, 'no departure announced');
      assert.equal(w.all('user_joined').filter((f) => f.user.id === kim.user.id).length, 1, 'kim announced once, when she first came');
      await Promise.all([w.close(), e.close(), k2.close(), l.close()]);
    } finally {
      await server.close();
    }
  });

  test('a user who drops without a close and stays away is announced gone once the grace runs out', async () => {
    const server = await startTestServer({ presenceIntervalMs: 10, presenceLeaveGraceMs: 50 });
    try {
      const watcher = await server.register(uniqueName('watch'));
      const kim = await server.register(uniqueName('kim'));
      const w = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
      await w.next('hello');
      const k1 = connect(server.wsUrl, { token: kim.token, params: { history: '0' } });
      await w.next('user_joined', (f) => f.user.id === kim.user.id);
      await drop(k1);
      const left = await w.next('user_left', (f) => f.user.id === kim.user.id);
      assert.equal(left.room, 'general');
      // Gone for newcomers too.
      const n = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
      const seen = await n.next('presence');
      assert.ok(!seen.users.some((u) => u.id === kim.user.id));
      // Back later: announced again, like any arrival.
      const k2 = connect(server.wsUrl, { token: kim.token, params: { history: '0' } });
      await w.next('user_joined', (f) => f.user.id === kim.user.id);
      await Promise.all([w.close(), n.close(), k2.close()]);
    } finally {
      await server.close();
    }
  });

  test('a close frame from the client, or a session that ends, is announced at once whatever the grace', async () => {
    const server = await startTestServer({ presenceIntervalMs: 10, presenceLeaveGraceMs: 600_000 });
    try {
      const watcher = await server.register(uniqueName('watch'));
      const kim = await server.register(uniqueName('kim'));
      const lee = await server.register(uniqueName('lee'));
      const w = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
      await w.next('hello');
      const k = connect(server.wsUrl, { token: kim.token, params: { history: '0' } });
      await w.next('user_joined', (f) => f.user.id === kim.user.id);
      await k.close();
      await w.next('user_left', (f) => f.user.id === kim.user.id);
      const l = connect(server.wsUrl, { token: lee.token, params: { history: '0' } });
      await w.next('user_joined', (f) => f.user.id === lee.user.id);
      const out = await fetch(`${server.url}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${lee.token}` } });
      assert.equal(out.status, 204);
      await l.closed;
      await w.next('user_left', (f) => f.user.id === lee.user.id);
      await w.close();
    } finally {
      await server.close();
    }
  });

  test('a reconnect storm in a large room announces nothing: no departures, no counts, no arrivals', async () => {
    // Past the list limit, the room is announced by counts; every socket comes from 127.0.0.1.
    const server = await startTestServer({ presenceIntervalMs: 10, presenceLeaveGraceMs: 600_000, maxSocketsPerIp: 1000 });
    try {
      const watcher = await server.register(uniqueName('storm-watch'));
      const w = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
      await w.next('hello');
      const crowd = await Promise.all(Array.from({ length: LIMITS.presenceListMax + 20 }, () => server.register(uniqueName('storm'))));
      const open = () => crowd.map((u) => connect(server.wsUrl, { token: u.token, params: { history: '0' } }));
      const first = open();
      // Generous waits: hundreds of sockets at once on a busy machine.
      await Promise.all(first.map((s) => s.next('hello', undefined, 60_000)));
      const total = crowd.length + 1;
      await w.next('presence_count', (f) => f.count === total, 60_000);
      const framesBefore = w.frames.length;
      await Promise.all(first.map(drop));
      await serverLetGo(server, crowd.map((u) => u.user.id));
      const again = open();
      await Promise.all(again.map((s) => s.next('hello', undefined, 60_000)));
      // The marker: one more arrival, the next count. Anything the storm caused would come before it.
      const marker = await server.register(uniqueName('storm-mark'));
      const m = connect(server.wsUrl, { token: marker.token, params: { history: '0' } });
      await w.next('presence_count', (f) => f.count === total + 1, 60_000);
      // (The marker's registration is also a `member_joined` event in the room's log: not presence.)
      const presence = new Set(['presence', 'presence_count', 'user_joined', 'user_left']);
      const during = w.frames.slice(framesBefore).filter((f) => presence.has(f.type)).map((f) => f.type);
      const counts = new Map<string, number>();
      for (const t of during) counts.set(t, (counts.get(t) ?? 0) + 1);
      assert.deepEqual(during, ['presence_count'], `the storm announced nothing, only the marker's count (got ${[...counts].map(([t, n]) => `${n} ${t}`).join(', ')})`);
      await Promise.all([w.close(), m.close(), ...again.map((s) => s.close())]);
    } finally {
      await server.close();
    }
  });
});

describe("a large room's count", () => {
  /** A crowd past the list limit in `general`, every socket from 127.0.0.1; returns the watcher's socket and the first count it heard. */
  async function crowded(server: TestServer, watcherToken: string) {
    const w = connect(server.wsUrl, { token: watcherToken, params: { history: '0' } });
    await w.next('hello');
    const crowd = await Promise.all(Array.from({ length: LIMITS.presenceListMax + 5 }, () => server.register(uniqueName('crowd'))));
    const sockets = crowd.map((u) => connect(server.wsUrl, { token: u.token, params: { history: '0' } }));
    await Promise.all(sockets.map((s) => s.next('hello', undefined, 60_000)));
    const first = await w.next('presence_count', (f) => f.room === DEFAULT_ROOM, 60_000);
    return { w, sockets, first };
  }

  test('is held after an announcement while small rooms are still announced each batch', async () => {
    const server = await startTestServer({ presenceIntervalMs: 10, presenceCountIntervalMs: 600_000, presenceCountMaxIntervalMs: 600_000, maxSocketsPerIp: 1000 });
    try {
      const [watcher, friend, late] = await Promise.all(['watch', 'friend', 'late'].map((u) => server.register(uniqueName(u))));
      // A small room of the watcher's, where the friend's arrival is the marker.
      const small = (await call(server.url, 'POST', '/api/rooms', { token: watcher!.token, json: { name: uniqueName('small'), visibility: 'private' } })).body.room.id as string;
      assert.equal((await call(server.url, 'POST', `/api/rooms/${small}/members`, { token: watcher!.token, json: { userId: friend!.user.id } })).status, 200);
      const { w, sockets, first } = await crowded(server, watcher!.token);
      const from = w.frames.indexOf(first) + 1;
      // One more arrival in `general`: a new count, not yet due. Then the marker, in a later batch.
      const l = connect(server.wsUrl, { token: late!.token, params: { history: '0' } });
      await l.next('hello');
      const f = connect(server.wsUrl, { token: friend!.token, params: { history: '0' } });
      await w.next('user_joined', (j) => j.room === small && j.user.id === friend!.user.id);
      const counts = w.frames.slice(from).filter((x) => x.type === 'presence_count');
      assert.deepEqual(counts, [], `the count of ${first.count} stands until its time (got ${counts.length} more)`);
      await Promise.all([w.close(), l.close(), f.close(), ...sockets.map((s) => s.close())]);
    } finally {
      await server.close();
    }
  });

  test('held, is announced when its time comes', async () => {
    const server = await startTestServer({ presenceIntervalMs: 10, presenceCountIntervalMs: 600_000, presenceCountMaxIntervalMs: 200, maxSocketsPerIp: 1000 });
    try {
      const [watcher, late] = await Promise.all(['watch', 'late'].map((u) => server.register(uniqueName(u))));
      const { w, sockets } = await crowded(server, watcher!.token);
      const total = LIMITS.presenceListMax + 7; // the crowd, the watcher and the late one
      const l = connect(server.wsUrl, { token: late!.token, params: { history: '0' } });
      await w.next('presence_count', (c) => c.room === DEFAULT_ROOM && c.count === total, 60_000);
      await Promise.all([w.close(), l.close(), ...sockets.map((s) => s.close())]);
    } finally {
      await server.close();
    }
  });
});
