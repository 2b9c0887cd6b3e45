import { startTestServer, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ChatterApi, ChatterApiError } from '../src/index.js';
import { seed, uniqueName } from './helpers.js';

const password = 'correct horse battery';

/** Resolve with the rejection, failing the test if the promise resolves instead. */
async function rejection(promise: Promise<unknown>): Promise<ChatterApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ChatterApiError, `expected ChatterApiError, got ${String(err)}`);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0 && !err.message.includes('[object'), `a sentence: ${err.message}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('ChatterApi against a real server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ loginMaxPerUser: 3 });
  });
  after(() => server.close());

  test('register with a token session signs in: the token is kept and /api/me works', async () => {
    const api = new ChatterApi({ baseUrl: server.url });
    const username = uniqueName('reg');
    const res = await api.register({ username, password, session: 'token' });
    assert.equal(res.user.username, username);
    assert.ok(res.token);
    assert.equal(api.token, res.token);
    const me = await api.me();
    assert.equal(me.user.id, res.user.id);
    assert.ok(Date.parse(me.session.expiresAt) > Date.now());
  });

  test('register without a session creates no token; login then signs in', async () => {
    const api = new ChatterApi({ baseUrl: `${server.url}/` }); // a trailing slash is fine
    const username = uniqueName('plain');
    const res = await api.register({ username, password });
    assert.equal(res.token, undefined);
    assert.equal(api.token, undefined);
    assert.equal((await rejection(api.me())).code, 'unauthorized');
    const login = await api.login({ username, password });
    assert.ok(login.token);
    assert.equal(api.token, login.token);
    assert.equal((await api.me()).user.username, username);
  });

  test('validation errors map to code, status and per-field sentences', async () => {
    const api = new ChatterApi({ baseUrl: server.url });
    const err = await rejection(api.register({ username: 'a', password: 'short', email: 'not-an-email' }));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'validation_failed');
    assert.deepEqual(Object.keys(err.fields).sort(), ['email', 'password', 'username']);
    for (const sentence of Object.values(err.fields)) assert.ok(typeof sentence === 'string' && sentence.length > 3);
  });

  test('a taken username is 409 with the field named', async () => {
    const api = new ChatterApi({ baseUrl: server.url });
    const username = uniqueName('taken');
    await api.register({ username, password });
    const err = await rejection(api.register({ username: username.toUpperCase(), password }));
    assert.equal(err.status, 409);
    assert.equal(err.code, 'username_taken');
    assert.ok(err.fields.username);
  });

  test('wrong credentials: 401 invalid_credentials; throttled attempts: 429 with retryAfter', async () => {
    const api = new ChatterApi({ baseUrl: server.url });
    const username = uniqueName('throttle');
    await api.register({ username, password });
    for (let i = 0; i < 3; i++) {
      const err = await rejection(api.login({ username, password: 'wrong password!' }));
      assert.equal(err.status, 401);
      assert.equal(err.code, 'invalid_credentials');
      assert.equal(err.retryAfter, undefined);
    }
    const limited = await rejection(api.login({ username, password }));
    assert.equal(limited.status, 429);
    assert.equal(limited.code, 'rate_limited');
    assert.ok(typeof limited.retryAfter === 'number' && limited.retryAfter > 0, `retryAfter ${limited.retryAfter}`);
    assert.equal(api.token, undefined);
  });

  test('sessions lists the devices signed in, named by userAgent; revokeSession signs one out', async () => {
    const username = uniqueName('sess');
    const laptop = new ChatterApi({ baseUrl: server.url, userAgent: 'chatter-cli/0.1.0' });
    await laptop.register({ username, password, session: 'token' });
    const phone = new ChatterApi({ baseUrl: server.url });
    await phone.login({ username, password });
    const { sessions } = await laptop.sessions();
    assert.equal(sessions.length, 2);
    const current = sessions.find((s) => s.current)!;
    assert.equal(current.device, 'chatter CLI');
    const other = sessions.find((s) => !s.current)!;
    assert.equal(other.device, 'Node.js');
    await laptop.revokeSession(other.id);
    assert.equal((await rejection(phone.me())).status, 401);
    const gone = await rejection(laptop.revokeSession(other.id));
    assert.equal(gone.status, 404);
    assert.equal(gone.code, 'not_found');
    assert.deepEqual((await laptop.sessions()).sessions.map((s) => s.id), [current.id]);
  });

  test('rooms and history: general exists; pages go back with before and forward with after', async () => {
    const user = await server.register(uniqueName('hist'));
    const api = new ChatterApi({ baseUrl: server.url, token: user.token });
    await seed(server, user.user.id, 7, 'page');
    const { rooms } = await api.rooms();
    const general = rooms.find((r) => r.id === 'general');
    assert.ok(general && general.lastSeq >= 7);
    const newest = await api.history('general', { limit: 3 });
    assert.equal(newest.messages.length, 3);
    assert.equal(newest.hasMore, true);
    assert.equal(newest.messages.at(-1)!.seq, general.lastSeq);
    const older = await api.history('general', { before: newest.messages[0]!.seq, limit: 2 });
    assert.deepEqual(older.messages.map((m) => m.seq), [newest.messages[0]!.seq - 2, newest.messages[0]!.seq - 1]);
    const forward = await api.history('general', { after: general.lastSeq - 2 });
    assert.deepEqual(forward.messages.map((m) => m.seq), [general.lastSeq - 1, general.lastSeq]);
    assert.equal(forward.hasMore, false);
    const bad = await rejection(api.history('general', { limit: 1000 }));
    assert.equal(bad.code, 'validation_failed');
    assert.ok(bad.fields.limit);
  });

  test('changePassword: wrong current password is 403 with the field; a right one signs out other sessions', async () => {
    const user = await server.register(uniqueName('pw'));
    const api = new ChatterApi({ baseUrl: server.url, token: user.token });
    const other = new ChatterApi({ baseUrl: server.url });
    await other.login({ username: user.username, password: user.password });
    const wrong = await rejection(api.changePassword({ currentPassword: 'nope nope nope', newPassword: 'a new password' }));
    assert.equal(wrong.status, 403);
    assert.equal(wrong.code, 'wrong_password');
    assert.ok(wrong.fields.currentPassword);
    await api.changePassword({ currentPassword: user.password, newPassword: 'a new password' });
    await api.me(); // this session survives
    assert.equal((await rejection(other.me())).status, 401);
  });

  test('logout revokes the session and forgets the token; logging out twice is not an error', async () => {
    const user = await server.register(uniqueName('out'));
    const api = new ChatterApi({ baseUrl: server.url, token: user.token });
    await api.logout();
    assert.equal(api.token, undefined);
    const stale = new ChatterApi({ baseUrl: server.url, token: user.token });
    assert.equal((await rejection(stale.me())).code, 'unauthorized');
    await stale.logout();
    assert.equal(stale.token, undefined);
  });

  test('request() reaches any route; unknown routes give a JSON not_found', async () => {
    const api = new ChatterApi({ baseUrl: server.url });
    const health = await api.request<{ status: string }>('GET', '/api/health');
    assert.equal(health.status, 'ok');
    const missing = await rejection(api.request('GET', '/api/no-such-route'));
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'not_found');
  });

  test('an injected fetch is used (and called unbound, as browsers require)', async () => {
    const calls: string[] = [];
    const api = new ChatterApi({
      baseUrl: server.url,
      fetch: (input, init) => {
        calls.push(String(input));
        return fetch(input, init);
      },
    });
    await api.health();
    assert.deepEqual(calls, [`${server.url}/api/health`]);
  });
});

describe('ChatterApi failures without a Chatter server', () => {
  let proxy: Server;
  let proxyUrl: string;
  before(async () => {
    // Stands in for a reverse proxy in front of Chatter: errors without Chatter's JSON body.
    proxy = createServer((req, res) => {
      if (req.url === '/api/busy') {
        res.writeHead(503, { 'Content-Type': 'text/html', 'Retry-After': '7' });
        res.end('<html><body>Service Unavailable</body></html>');
      } else if (req.url === '/api/garbled') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"oops"');
      } else {
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('<html>Bad gateway</html>');
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

  test('a non-JSON error page still gives a code and a sentence; Retry-After is read from the header', async () => {
    const api = new ChatterApi({ baseUrl: proxyUrl });
    const busy = await rejection(api.request('GET', '/api/busy'));
    assert.equal(busy.status, 503);
    assert.equal(busy.code, 'unavailable');
    assert.equal(busy.retryAfter, 7);
    const gateway = await rejection(api.me());
    assert.equal(gateway.status, 502);
    assert.equal(gateway.code, 'unavailable');
  });

  test('a 200 that is not JSON is invalid_response', async () => {
    const err = await rejection(new ChatterApi({ baseUrl: proxyUrl }).request('GET', '/api/garbled'));
    assert.equal(err.code, 'invalid_response');
  });

  test('nothing listening: network_error with status 0', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await rejection(new ChatterApi({ baseUrl: `http://127.0.0.1:${port}` }).login({ username: 'someone', password }));
    assert.equal(err.status, 0);
    assert.equal(err.code, 'network_error');
  });
});
