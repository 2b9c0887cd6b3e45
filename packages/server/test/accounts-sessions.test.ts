import { CLOSE_CODES } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { describeDevice } from '../src/auth/devices.js';
import { startTestServer, type TestServer } from '../src/testing.js';
import { call, expectError, type Reply } from './http-helpers.js';
import { connect, sleep, uniqueName } from './wsclient.js';

/*
 * "Your sessions": the list, revoking one (its sockets close), signing in again in a browser
 * revoking the session it replaces, and the absolute maximum lifetime.
 */

const PASSWORD = 'correct horse battery';
const NO_WEB = join(tmpdir(), 'chatter-accounts-no-web-app');
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

function sessionCookie(res: Reply): string {
  const line = res.headers.getSetCookie().find((c) => c.startsWith('chatter_session='));
  assert.ok(line, `no session cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
  return line.split(';')[0]!.slice('chatter_session='.length);
}

interface Listed {
  id: number;
  current: boolean;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  device: string;
}

describe('your sessions', () => {
  let server: TestServer;
  let url: string;
  const login = (username: string, userAgent?: string) =>
    call(url, 'POST', '/api/login', { json: { username, password: PASSWORD }, headers: userAgent ? { 'user-agent': userAgent } : {} });
  const list = async (token: string): Promise<Listed[]> => {
    const res = await call(url, 'GET', '/api/me/sessions', { token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body), ['sessions']);
    return res.body.sessions as Listed[];
  };
  const revoke = (token: string, id: number | string) => call(url, 'DELETE', `/api/me/sessions/${id}`, { token });

  before(async () => {
    server = await startTestServer({ webDir: NO_WEB });
    url = server.url;
  });
  after(() => server.close());

  test('lists every session of the user with its device, the current one marked, newest use first', async () => {
    const alice = await server.register(uniqueName('List'));
    const firefox = (await login(alice.username, FIREFOX)).body.token as string;
    const phone = (await login(alice.username, SAFARI_IPHONE)).body.token as string;
    const cli = (await login(alice.username, 'chatter-cli/0.1.0 (linux)')).body.token as string;
    const bob = await server.register(uniqueName('Other'));

    const sessions = await list(firefox);
    assert.equal(sessions.length, 4, 'registration + 3 sign-ins; nobody else\'s');
    const byDevice = Object.fromEntries(sessions.map((s) => [s.device, s]));
    assert.deepEqual(Object.keys(byDevice).sort(), ['Firefox on Linux', 'Node.js', 'Safari on iOS', 'chatter CLI'].sort());
    assert.equal(sessions.filter((s) => s.current).length, 1);
    assert.equal(byDevice['Firefox on Linux']!.current, true);
    for (const s of sessions) {
      assert.deepEqual(Object.keys(s).sort(), ['createdAt', 'current', 'device', 'expiresAt', 'id', 'lastSeenAt']);
      assert.ok(Number.isInteger(s.id));
      for (const t of [s.createdAt, s.lastSeenAt, s.expiresAt]) assert.ok(!Number.isNaN(Date.parse(t)), t);
      assert.ok(Date.parse(s.lastSeenAt) >= Date.parse(s.createdAt));
      assert.ok(Date.parse(s.expiresAt) > Date.now());
    }
    assert.equal(sessions[0]!.current, true, 'this request is the most recent use');
    assert.deepEqual((await list(phone)).map((s) => s.id).sort(), sessions.map((s) => s.id).sort());
    assert.equal((await list(cli)).find((s) => s.current)!.device, 'chatter CLI');
    assert.equal((await list(bob.token)).length, 1);
    expectError(await call(url, 'GET', '/api/me/sessions'), 401, 'unauthorized');
  });

  test('revoking another session ends it and closes its sockets with 4002; the others stay', async () => {
    const alice = await server.register(uniqueName('Revoke'));
    const laptop = (await login(alice.username, FIREFOX)).body.token as string;
    const socket = connect(server.wsUrl, { token: laptop });
    await socket.next('hello');
    const target = (await list(alice.token)).find((s) => s.device === 'Firefox on Linux')!;

    const res = await revoke(alice.token, target.id);
    assert.equal(res.status, 204);
    expectError(await call(url, 'GET', '/api/me', { token: laptop }), 401, 'unauthorized');
    assert.equal((await socket.closed).code, CLOSE_CODES.session_ended);
    assert.equal((await call(url, 'GET', '/api/me', { token: alice.token })).status, 200);
    assert.deepEqual((await list(alice.token)).map((s) => s.id), (await list(alice.token)).filter((s) => s.id !== target.id).map((s) => s.id));
    expectError(await revoke(alice.token, target.id), 404, 'not_found');
  });

  test("someone else's session is 404, like one that does not exist, and stays alive", async () => {
    const alice = await server.register(uniqueName('Mine'));
    const mallory = await server.register(uniqueName('Mallory'));
    const [aliceSession] = await list(alice.token);
    expectError(await revoke(mallory.token, aliceSession!.id), 404, 'not_found');
    expectError(await revoke(mallory.token, 999_999_999), 404, 'not_found');
    assert.equal((await call(url, 'GET', '/api/me', { token: alice.token })).status, 200);
    for (const bad of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      expectError(await revoke(mallory.token, bad), 400, 'validation_failed');
    }
    expectError(await call(url, 'DELETE', `/api/me/sessions/${aliceSession!.id}`), 401, 'unauthorized');
  });

  test('revoking the current session with its cookie signs out and clears the cookie', async () => {
    const username = uniqueName('Self');
    const reg = await call(url, 'POST', '/api/register', { json: { username, password: PASSWORD, session: 'cookie' }, origin: url });
    const cookie = sessionCookie(reg);
    const [current] = (await call(url, 'GET', '/api/me/sessions', { cookie })).body.sessions as Listed[];
    expectError(await call(url, 'DELETE', `/api/me/sessions/${current!.id}`, { cookie }), 403, 'forbidden_origin');
    const res = await call(url, 'DELETE', `/api/me/sessions/${current!.id}`, { cookie, origin: url });
    assert.equal(res.status, 204);
    assert.match(res.headers.getSetCookie().find((c) => c.startsWith('chatter_session='))!, /^chatter_session=;/);
    expectError(await call(url, 'GET', '/api/me', { cookie }), 401, 'session_expired');
  });

  test('signing in again in a browser revokes the session whose cookie it replaces', async () => {
    const username = uniqueName('Again');
    const first = sessionCookie(await call(url, 'POST', '/api/register', { json: { username, password: PASSWORD, session: 'cookie' }, origin: url }));
    const socket = connect(server.wsUrl, { token: first, via: 'cookie', origin: url });
    await socket.next('hello');
    const second = sessionCookie(await call(url, 'POST', '/api/login', { json: { username, password: PASSWORD, session: 'cookie' }, origin: url, cookie: first }));
    assert.notEqual(second, first);
    expectError(await call(url, 'GET', '/api/me', { cookie: first }), 401, 'session_expired');
    assert.equal((await socket.closed).code, CLOSE_CODES.session_ended);
    const sessions = (await call(url, 'GET', '/api/me/sessions', { cookie: second })).body.sessions as Listed[];
    assert.equal(sessions.length, 1);
    // A token-mode sign-in replaces no cookie and revokes nothing.
    assert.equal((await call(url, 'POST', '/api/login', { json: { username, password: PASSWORD }, cookie: second })).status, 200);
    assert.equal((await call(url, 'GET', '/api/me', { cookie: second })).status, 200);
  });

  test('a failed sign-in revokes nothing', async () => {
    const username = uniqueName('Keep');
    const cookie = sessionCookie(await call(url, 'POST', '/api/register', { json: { username, password: PASSWORD, session: 'cookie' }, origin: url }));
    expectError(await call(url, 'POST', '/api/login', { json: { username, password: 'not the password', session: 'cookie' }, origin: url, cookie }), 401, 'invalid_credentials');
    assert.equal((await call(url, 'GET', '/api/me', { cookie })).status, 200);
  });
});

describe('absolute session lifetime (TTL 2 s, maximum 3 s)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ sessionTtlMs: 2000, sessionMaxAgeMs: 3000, webDir: NO_WEB });
  });
  after(() => server.close());
  const until = (epochMs: number) => sleep(Math.max(0, epochMs - Date.now()));

  test('a session in constant use still ends at its maximum age; its last use is recorded', async () => {
    const reg = await call(server.url, 'POST', '/api/register', { json: { username: uniqueName('Max'), password: PASSWORD, session: 'token' } });
    const token = reg.body.token as string;
    const other = (await call(server.url, 'POST', '/api/login', { json: { username: reg.body.user.username, password: PASSWORD } })).body.token as string;
    const createdAt = Date.parse(reg.body.expiresAt) - 2000;

    await until(createdAt + 1200);
    const used = await call(server.url, 'GET', '/api/me', { token });
    assert.equal(used.status, 200);
    // Slid, but only up to the maximum.
    assert.equal(Date.parse(used.body.session.expiresAt), createdAt + 3000);
    const seen = ((await call(server.url, 'GET', '/api/me/sessions', { token: other })).body.sessions as Listed[]).find((s) => !s.current)!;
    assert.ok(Date.parse(seen.lastSeenAt) >= createdAt + 1200, `lastSeenAt ${seen.lastSeenAt} records the use`);
    assert.equal(Date.parse(seen.expiresAt), createdAt + 3000);

    await until(createdAt + 2400);
    assert.equal((await call(server.url, 'GET', '/api/me', { token })).status, 200, 'past the sliding TTL of its creation, kept alive by use');
    await until(createdAt + 3200);
    expectError(await call(server.url, 'GET', '/api/me', { token }), 401, 'unauthorized');
  });
});

describe('describeDevice', () => {
  const cases: [string | undefined, string][] = [
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome on Linux'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36', 'Chrome on Linux'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0', 'Edge on Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'Safari on macOS'],
    [FIREFOX, 'Firefox on Linux'],
    [SAFARI_IPHONE, 'Safari on iOS'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
    ['chatter-cli/0.1.0', 'chatter CLI'],
    ['node', 'Node.js'],
    ['curl/8.5.0', 'curl'],
    ['python-requests/2.31.0', 'python-requests'],
    ['<script>alert(1)</script>', 'Unknown device'],
    ['', 'Unknown device'],
    [undefined, 'Unknown device'],
  ];
  for (const [ua, expected] of cases) {
    test(`${JSON.stringify(ua)?.slice(0, 60)} -> ${expected}`, () => assert.equal(describeDevice(ua), expected));
  }
});
