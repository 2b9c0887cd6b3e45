import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../src/testing.js';
import { call, expectError, type Reply } from './http-helpers.js';
import { sleep, uniqueName } from './wsclient.js';

/*
 * Sign-in throttling that an attacker cannot turn against the owner: per (account, address) with a
 * growing wait, per address across accounts, a per-account count across addresses that only takes
 * away free attempts, device cookies, and attempts counted before the password is checked.
 * The server trusts X-Forwarded-For here, so each test can speak from any address it likes.
 */

const PASSWORD = 'correct horse battery';
const WRONG = 'wrong password';
const NO_WEB = join(tmpdir(), 'chatter-accounts-no-web-app');

function cookieLine(res: Reply, name: string): string | undefined {
  return res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
}
const valueOf = (line: string) => line.split(';')[0]!.split('=').slice(1).join('=');

/*
 * A wait counts from the attempt's start, so a password check that is slow (bcrypt on a loaded
 * machine) serves part of it. A minute is far longer than any check here: a test that expects a
 * wait never sees it end early.
 */
const BACKOFF_MS = 60_000;

describe('login throttling (behind a trusted proxy)', () => {
  let server: TestServer;
  let url: string;
  let ipCounter = 0;
  const freshIp = () => `10.1.${Math.floor(++ipCounter / 250)}.${(ipCounter % 250) + 1}`;
  const loginFrom = (ip: string, json: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call(url, 'POST', '/api/login', { json, headers: { 'x-forwarded-for': ip, ...headers } });
  /** A cookie-mode sign-in, as the web app makes it, optionally presenting a device cookie. */
  const browserLogin = (ip: string, username: string, password: string, device?: string) =>
    call(url, 'POST', '/api/login', {
      json: { username, password, session: 'cookie' },
      origin: url,
      headers: { 'x-forwarded-for': ip, ...(device ? { cookie: `chatter_device=${device}` } : {}) },
    });
  const registerUser = async () => {
    const username = uniqueName('Thr');
    const res = await call(url, 'POST', '/api/register', { json: { username, password: PASSWORD } });
    assert.equal(res.status, 201);
    return username;
  };

  function expectThrottled(res: Reply, atMost = server.config.loginUserWindowMs / 1000): number {
    const error = expectError(res, 429, 'rate_limited');
    const retryAfter = error.details?.retryAfter;
    assert.ok(typeof retryAfter === 'number' && Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= atMost, `retryAfter ${retryAfter}`);
    assert.equal(res.headers.get('retry-after'), String(retryAfter));
    return retryAfter;
  }

  /** Fail `n` times on `username` from `ip`. */
  async function fail(ip: string, username: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) expectError(await loginFrom(ip, { username, password: WRONG }), 401, 'invalid_credentials');
  }

  before(async () => {
    server = await startTestServer({
      trustProxy: 1,
      loginMaxPerUser: 3,
      loginBackoffMs: BACKOFF_MS,
      loginUserWindowMs: 900_000,
      loginMaxPerIp: 12,
      loginMaxPerAccount: 6,
      webDir: NO_WEB,
    });
    url = server.url;
  });
  after(() => server.close());

  test('one address: after 3 failures it must wait, even with the right password', async () => {
    const username = await registerUser();
    const ip = freshIp();
    // The counter is per account, whatever the case of the username.
    for (const variant of [username, username.toLowerCase(), username.toUpperCase()]) {
      expectError(await loginFrom(ip, { username: variant, password: WRONG }), 401, 'invalid_credentials');
    }
    // The first wait, a minute here; how each further failure doubles it is exact in
    // login-throttle.test.ts, on a clock of its own, and a wait ending is tested below.
    expectThrottled(await loginFrom(ip, { username, password: PASSWORD }), BACKOFF_MS / 1000);
  });

  test("someone else's guessing does not lock the owner out: the right password from another address signs in", async () => {
    const username = await registerUser();
    const attacker = freshIp();
    await fail(attacker, username, 3);
    expectThrottled(await loginFrom(attacker, { username, password: WRONG }));
    assert.equal((await loginFrom(freshIp(), { username, password: PASSWORD })).status, 200);
    // ...and the owner's success does not lift the attacker's wait.
    expectThrottled(await loginFrom(attacker, { username, password: PASSWORD }));
  });

  test('a browser that signed in before (its device cookie) signs in from the very address that is throttled', async () => {
    const username = await registerUser();
    const shared = freshIp(); // a NAT the owner shares with the attacker
    const first = await browserLogin(shared, username, PASSWORD);
    assert.equal(first.status, 200);
    const line = cookieLine(first, 'chatter_device');
    assert.ok(line, `no device cookie in ${JSON.stringify(first.headers.getSetCookie())}`);
    const attributes = line.split(';').map((a) => a.trim().toLowerCase());
    for (const a of ['httponly', 'samesite=strict', 'path=/api']) assert.ok(attributes.includes(a), line);
    const maxAge = Number(attributes.find((a) => a.startsWith('max-age='))?.split('=')[1]);
    assert.equal(maxAge, server.config.deviceCookieTtlMs / 1000);
    const device = valueOf(line);
    assert.match(device, /^[A-Za-z0-9_-]{43}$/);

    await fail(shared, username, 3);
    expectThrottled(await browserLogin(shared, username, PASSWORD));
    const again = await browserLogin(shared, username, PASSWORD, device);
    assert.equal(again.status, 200, again.text);
    assert.equal(cookieLine(again, 'chatter_device'), undefined, 'a trusted device keeps its cookie');

    // Only a hash is stored.
    const db = new Database(server.config.dbFile, { readonly: true });
    try {
      const rows = db.prepare('SELECT token_hash FROM login_devices').all() as { token_hash: Buffer }[];
      assert.ok(rows.some((r) => r.token_hash.equals(createHash('sha256').update(device).digest())));
      assert.ok(rows.every((r) => !r.token_hash.includes(Buffer.from(device))));
    } finally {
      db.close();
    }
  });

  test('a device cookie counts only for the account it was given for', async () => {
    const owner = await registerUser();
    const victim = await registerUser();
    const ip = freshIp();
    const device = valueOf(cookieLine(await browserLogin(ip, owner, PASSWORD), 'chatter_device')!);
    await fail(ip, victim, 3);
    expectThrottled(await browserLogin(ip, victim, WRONG, device));
    expectThrottled(await browserLogin(ip, victim, PASSWORD, device));
  });

  test('a device cookie that keeps failing is no longer trusted', async () => {
    const username = await registerUser();
    const ip = freshIp();
    const device = valueOf(cookieLine(await browserLogin(ip, username, PASSWORD), 'chatter_device')!);
    await fail(ip, username, 3);
    for (let i = 0; i < 3; i++) expectError(await browserLogin(ip, username, WRONG, device), 401, 'invalid_credentials');
    expectThrottled(await browserLogin(ip, username, PASSWORD, device));
  });

  test('many addresses against one account: past the per-account count, an address that failed waits at once, a new one still gets its try', async () => {
    const username = await registerUser();
    const attackers = Array.from({ length: 6 }, () => freshIp());
    for (const ip of attackers) await fail(ip, username, 1);
    // Below the per-account count an address has 3 free failures; past it, none.
    expectThrottled(await loginFrom(attackers[0]!, { username, password: WRONG }));
    expectThrottled(await loginFrom(attackers[1]!, { username, password: PASSWORD }));
    // The owner, from an address that never failed, is not locked out.
    assert.equal((await loginFrom(freshIp(), { username, password: PASSWORD })).status, 200);
    // An attacker's new address gets one guess, not three.
    const newcomer = freshIp();
    await fail(newcomer, username, 1);
    expectThrottled(await loginFrom(newcomer, { username, password: WRONG }));
  });

  test('45 parallel wrong passwords from one address: 3 are checked, 42 refused', async () => {
    const username = await registerUser();
    const ip = freshIp();
    const results = await Promise.all(Array.from({ length: 45 }, () => loginFrom(ip, { username, password: WRONG })));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 42, statuses.join(','));
    expectThrottled(await loginFrom(ip, { username, password: PASSWORD }));
  });

  test('45 parallel attempts from one address on 45 accounts: only the per-address limit (12) get through', async () => {
    const ip = freshIp();
    const results = await Promise.all(Array.from({ length: 45 }, (_, i) => loginFrom(ip, { username: `ghost-${uniqueName()}-${i}`, password: WRONG })));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 401).length, 12, statuses.join(','));
    for (const r of results.filter((x) => x.status !== 401)) expectThrottled(r, server.config.loginIpWindowMs / 1000);
  });

  test('IPv6 addresses count by their /64: another address in it waits too, another /64 does not', async () => {
    const username = await registerUser();
    const prefix = `2001:db8:${(++ipCounter).toString(16)}:7`;
    await fail(`${prefix}::1`, username, 3);
    expectThrottled(await loginFrom(`${prefix}:0:0:0:2`, { username, password: PASSWORD }));
    expectThrottled(await loginFrom(`${prefix}:ffff:1:2:3`, { username, password: PASSWORD }));
    assert.equal((await loginFrom(`${prefix.replace(/:7$/, ':8')}::1`, { username, password: PASSWORD })).status, 200);
  });

  test('username and email share one counter per account', async () => {
    const username = uniqueName('Both');
    const email = `${username.toLowerCase()}@example.com`;
    assert.equal((await call(url, 'POST', '/api/register', { json: { username, password: PASSWORD, email } })).status, 201);
    const ip = freshIp();
    expectError(await loginFrom(ip, { username, password: WRONG }), 401, 'invalid_credentials');
    expectError(await loginFrom(ip, { email, password: WRONG }), 401, 'invalid_credentials');
    expectError(await loginFrom(ip, { email: email.toUpperCase(), password: WRONG }), 401, 'invalid_credentials');
    expectThrottled(await loginFrom(ip, { username, password: PASSWORD }));
  });

  test('unknown usernames are throttled the same way, so the limit does not reveal which names exist', async () => {
    const ghost = uniqueName('ghost');
    const ip = freshIp();
    await fail(ip, ghost, 3);
    expectThrottled(await loginFrom(ip, { username: ghost, password: WRONG }));
  });

  test('a successful login forgets the failures of its address', async () => {
    const username = await registerUser();
    const ip = freshIp();
    await fail(ip, username, 2);
    assert.equal((await loginFrom(ip, { username, password: PASSWORD })).status, 200);
    await fail(ip, username, 3);
    expectThrottled(await loginFrom(ip, { username, password: WRONG }));
  });

  test('per address: attempts on any accounts count, successes included; other addresses are not affected', async () => {
    const ip = freshIp();
    const users = await Promise.all(Array.from({ length: 13 }, () => registerUser()));
    assert.equal((await loginFrom(ip, { username: users[0], password: PASSWORD })).status, 200);
    for (let i = 1; i < 12; i++) expectError(await loginFrom(ip, { username: users[i], password: WRONG }), 401, 'invalid_credentials');
    expectThrottled(await loginFrom(ip, { username: users[12], password: PASSWORD }), server.config.loginIpWindowMs / 1000);
    assert.equal((await loginFrom(freshIp(), { username: users[12], password: PASSWORD })).status, 200);
  });

  test("a password change's current-password check is throttled like a sign-in", async () => {
    const username = await registerUser();
    const { token } = (await loginFrom(freshIp(), { username, password: PASSWORD })).body as { token: string };
    const ip = freshIp();
    const change = (currentPassword: string, from = ip) =>
      call(url, 'PUT', '/api/me/password', { token, json: { currentPassword, newPassword: 'a brand new secret' }, headers: { 'x-forwarded-for': from } });
    for (let i = 0; i < 3; i++) expectError(await change(WRONG), 403, 'wrong_password');
    expectThrottled(await change(PASSWORD));
    // 45 parallel guesses with a stolen session cannot slip through either.
    const burst = await Promise.all(Array.from({ length: 45 }, () => change(WRONG)));
    assert.ok(burst.every((r) => r.status === 429), burst.map((r) => r.status).join(','));
    assert.equal((await change(PASSWORD, freshIp())).status, 204);
  });

  test('cookie sessions get the Secure flag when the proxy says the request came over HTTPS', async () => {
    const host = new URL(url).host;
    const res = await call(url, 'POST', '/api/register', {
      json: { username: uniqueName('Sec'), password: PASSWORD, session: 'cookie' },
      origin: `https://${host}`,
      headers: { 'x-forwarded-proto': 'https' },
    });
    assert.equal(res.status, 201, res.text);
    for (const name of ['chatter_session', 'chatter_device']) {
      const attributes = cookieLine(res, name)!.split(';').map((a) => a.trim().toLowerCase());
      assert.ok(attributes.includes('secure'), name);
      assert.ok(attributes.includes('httponly'), name);
    }
  });
});

describe('login throttling: a wait ends', () => {
  let server: TestServer;
  after(() => server?.close());

  test('once the wait it was told is over, the right password signs in from the same address', async () => {
    server = await startTestServer({ trustProxy: 1, loginMaxPerUser: 3, loginBackoffMs: 1000, webDir: NO_WEB });
    const username = uniqueName('Thr');
    assert.equal((await call(server.url, 'POST', '/api/register', { json: { username, password: PASSWORD } })).status, 201);
    const login = (password: string) => call(server.url, 'POST', '/api/login', { json: { username, password }, headers: { 'x-forwarded-for': '10.9.0.1' } });
    for (let i = 0; i < 3; i++) expectError(await login(WRONG), 401, 'invalid_credentials');
    const refused = await login(PASSWORD);
    const retryAfter = expectError(refused, 429, 'rate_limited').details?.retryAfter;
    assert.equal(retryAfter, 1);
    // Retry-After is rounded up and counts from the last failure's start: waiting it is enough.
    await sleep(retryAfter * 1000);
    assert.equal((await login(PASSWORD)).status, 200);
  });
});
