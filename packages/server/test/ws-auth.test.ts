import { CLOSE_CODES, PROTOCOL_VERSION } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../src/testing.js';
import { slowStore } from './slow-store.js';
import { connect, uniqueName } from './wsclient.js';

describe('WebSocket authentication', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ authTimeoutMs: 400, allowedOrigins: ['https://chat.example.com'] });
  });
  after(() => server.close());

  for (const via of ['header', 'query', 'cookie'] as const) {
    test(`a valid token by ${via} gets hello`, async () => {
      const alice = await server.register(uniqueName());
      const s = connect(server.wsUrl, { token: alice.token, via });
      const hello = await s.next('hello');
      assert.equal(hello.user.username, alice.username);
      assert.equal(hello.protocol, PROTOCOL_VERSION);
      assert.deepEqual(hello.rooms.map((r) => r.id), ['general']);
      await s.close();
    });

    test(`an unknown token by ${via} is closed with 4001`, async () => {
      const s = connect(server.wsUrl, { token: 'not-a-real-token', via });
      const { code, reason } = await s.closed;
      assert.equal(code, CLOSE_CODES.unauthorized);
      assert.equal(reason, 'unauthorized');
      assert.equal(s.all('hello').length, 0);
    });
  }

  test('first-frame auth keeps the token out of the URL', async () => {
    const alice = await server.register(uniqueName());
    const s = connect(server.wsUrl);
    await s.opened;
    s.send({ type: 'auth', token: alice.token, history: 0 });
    const hello = await s.next('hello');
    assert.equal(hello.user.id, alice.user.id);
    await s.next('presence');
    // history: 0 means no initial history frame: a pong after it is the marker that none came.
    s.send({ type: 'ping', ref: 'marker' });
    await s.next('pong');
    assert.equal(s.all('history').length, 0);
    await s.close();
  });

  test('frames before auth get an error frame; a bad auth token closes with 4001', async () => {
    const s = connect(server.wsUrl);
    await s.opened;
    s.send({ type: 'send', room: 'general', clientId: 'x1', text: 'hi' });
    const err = await s.next('error');
    assert.equal(err.code, 'unauthorized');
    s.send({ type: 'auth', token: 'wrong' });
    assert.equal((await s.closed).code, CLOSE_CODES.unauthorized);
  });

  test('no auth within the deadline closes with 4003', async () => {
    const s = connect(server.wsUrl);
    await s.opened;
    const { code } = await s.closed;
    assert.equal(code, CLOSE_CODES.auth_timeout);
  });

  test('a second auth frame is refused without closing', async () => {
    const alice = await server.register(uniqueName());
    const s = connect(server.wsUrl, { token: alice.token });
    await s.next('hello');
    s.send({ type: 'auth', token: alice.token });
    assert.equal((await s.next('error')).code, 'already_authenticated');
    s.send({ type: 'ping', ref: 'p' });
    assert.equal((await s.next('pong')).ref, 'p');
    await s.close();
  });

  test('a foreign Origin is refused before the upgrade (cross-site WebSocket hijacking)', async () => {
    const alice = await server.register(uniqueName());
    const s = connect(server.wsUrl, { token: alice.token, via: 'cookie', origin: 'https://evil.example' });
    await assert.rejects(s.opened, (err: Error & { status?: number }) => err.status === 403);
  });

  test('same-origin and allow-listed Origins are accepted; a near-miss is not', async () => {
    const alice = await server.register(uniqueName());
    const same = connect(server.wsUrl, { token: alice.token, via: 'cookie', origin: server.url });
    await same.next('hello');
    await same.close();
    const listed = connect(server.wsUrl, { token: alice.token, via: 'cookie', origin: 'https://chat.example.com' });
    await listed.next('hello');
    await listed.close();
    const nearMiss = connect(server.wsUrl, { token: alice.token, via: 'cookie', origin: 'https://chat.example.com.evil.example' });
    await assert.rejects(nearMiss.opened, (err: Error & { status?: number }) => err.status === 403);
  });

  test('an unsupported protocol version closes with 4004; bad connect params with 4000', async () => {
    const alice = await server.register(uniqueName());
    const v = connect(server.wsUrl, { token: alice.token, params: { v: '99' } });
    assert.equal((await v.closed).code, CLOSE_CODES.unsupported_protocol);
    // A protocol 1 client is refused the same way: the meaning of its frames changed.
    const old = connect(server.wsUrl, { token: alice.token, params: { v: '1' } });
    const closed = await old.closed;
    assert.equal(closed.code, CLOSE_CODES.unsupported_protocol);
    assert.match(closed.reason, /v2/);
    const bad = connect(server.wsUrl, { token: alice.token, params: { resume: 'general:abc' } });
    assert.equal((await bad.closed).code, CLOSE_CODES.bad_request);
    const ok = connect(server.wsUrl, { token: alice.token, params: { v: String(PROTOCOL_VERSION) } });
    await ok.next('hello');
    await ok.close();
  });

  test('logout closes that session\'s sockets with 4002, and only those', async () => {
    const alice = await server.register(uniqueName());
    const login = await fetch(`${server.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: alice.username, password: alice.password }),
    });
    const second = (await login.json()) as { token: string };
    const a1 = connect(server.wsUrl, { token: alice.token });
    const a2 = connect(server.wsUrl, { token: second.token });
    await a1.next('hello');
    await a2.next('hello');
    const res = await fetch(`${server.url}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}` } });
    assert.equal(res.status, 204);
    assert.equal((await a1.closed).code, CLOSE_CODES.session_ended);
    a2.send({ type: 'ping', ref: 'still-here' });
    assert.equal((await a2.next('pong')).ref, 'still-here');
    await a2.close();
    // The revoked token cannot reconnect.
    const again = connect(server.wsUrl, { token: alice.token });
    assert.equal((await again.closed).code, CLOSE_CODES.unauthorized);
  });

  test('a password change closes the other sessions\' sockets', async () => {
    const alice = await server.register(uniqueName());
    const login = await fetch(`${server.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: alice.username, password: alice.password }),
    });
    const other = (await login.json()) as { token: string };
    const mine = connect(server.wsUrl, { token: alice.token });
    const theirs = connect(server.wsUrl, { token: other.token });
    await mine.next('hello');
    await theirs.next('hello');
    const res = await fetch(`${server.url}/api/me/password`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ currentPassword: alice.password, newPassword: 'a whole new password' }),
    });
    assert.equal(res.status, 204);
    assert.equal((await theirs.closed).code, CLOSE_CODES.session_ended);
    mine.send({ type: 'ping' });
    await mine.next('pong');
    await mine.close();
  });
});

describe('WebSocket session expiry', () => {
  test('a socket whose session expires is closed with 4002', async () => {
    const server = await startTestServer({ sessionTtlMs: 1200 });
    try {
      const alice = await server.register(uniqueName());
      const s = connect(server.wsUrl, { token: alice.token });
      await s.next('hello');
      // The client stays connected but the session is not extended past its TTL by frames alone
      // once it has expired: every frame is checked against the expiry.
      // Closed by the server (a socket it forgot would hang the test until the runner's timeout).
      assert.equal((await s.closed).code, CLOSE_CODES.session_ended);
    } finally {
      await server.close();
    }
  });
});

describe('connection set-up races', () => {
  test('a client that leaves while its connection is being set up is not left registered (slow store)', async () => {
    // Room listing takes a while, as a networked database's would.
    const { store, dataDir } = slowStore(['listUserRooms'], () => 150);
    const server = await startTestServer({ dataDir }, { store });
    try {
      const ghost = await server.register(uniqueName('ghost'));
      const s = connect(server.wsUrl, { token: ghost.token });
      await s.opened;
      s.ws.terminate(); // gone before hello
      // The marker: a connection set up after the ghost's, through the same slow listing, so the
      // ghost's set-up is over by its hello (however slow the machine), and whatever it left shows.
      const marker = await server.register(uniqueName('marker'));
      const m = connect(server.wsUrl, { token: marker.token });
      await m.next('hello');
      assert.deepEqual([...server.app.gateway.hub.connections].map((c) => c.user.id), [marker.user.id]);
      assert.deepEqual(server.app.gateway.hub.onlineUsers('general').map((u) => u.id), [marker.user.id]);
      await m.close();
    } finally {
      await server.close();
    }
  });
});
