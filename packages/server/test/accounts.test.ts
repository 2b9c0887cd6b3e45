import { LIMITS } from '@chatter/protocol';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnServer, startTestServer, type TestServer } from '../src/testing.js';
import { call, expectError, type CallOptions, type Reply } from './http-helpers.js';
import { connect, sleep, uniqueName } from './wsclient.js';

/*
 * Accounts and sessions over real HTTP: register, login, logout, me, change password, cookie
 * sessions with their Origin check, token storage and expiry, and logs. Throttling, the list of
 * sessions and the hashing queue have their own files (accounts-*.test.ts).
 */

function setCookies(res: Reply): string[] {
  return res.headers.getSetCookie();
}

function sessionCookie(res: Reply): string {
  const line = setCookies(res).find((c) => c.startsWith('chatter_session='));
  assert.ok(line, `no chatter_session cookie in ${JSON.stringify(setCookies(res))}`);
  return line;
}

function cookieValue(line: string): string {
  return line.slice('chatter_session='.length).split(';')[0]!;
}

const PASSWORD = 'correct horse battery';
/** No web app: these servers must not depend on (or race with a rebuild of) packages/web/dist. */
const NO_WEB = join(tmpdir(), 'chatter-accounts-no-web-app');
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/; // 32 random bytes, base64url

describe('accounts', () => {
  let server: TestServer;
  let url: string;
  const post = (path: string, options?: CallOptions) => call(url, 'POST', path, options);
  const get = (path: string, options?: CallOptions) => call(url, 'GET', path, options);
  const put = (path: string, options?: CallOptions) => call(url, 'PUT', path, options);
  const register = (json: Record<string, unknown>, options: CallOptions = {}) => post('/api/register', { json, ...options });
  const login = (json: Record<string, unknown>, options: CallOptions = {}) => post('/api/login', { json, ...options });

  before(async () => {
    // Throttling has its own server below; here every request comes from 127.0.0.1 and must not trip it.
    server = await startTestServer({ loginMaxPerIp: 1_000_000, loginMaxPerUser: 1_000_000, allowedOrigins: ['https://chat.example.com'], webDir: NO_WEB });
    url = server.url;
  });
  after(() => server.close());

  describe('POST /api/register', () => {
    test('creates an account: 201 with the user and no session unless asked', async () => {
      const username = uniqueName('Reg');
      const res = await register({ username, password: PASSWORD, email: `${username}@example.com` });
      assert.equal(res.status, 201);
      assert.deepEqual(Object.keys(res.body).sort(), ['user']);
      const { user } = res.body;
      assert.equal(typeof user.id, 'number');
      assert.equal(user.username, username, 'the username keeps the case it was registered with');
      assert.equal(user.email, `${username}@example.com`);
      assert.equal(user.avatarUrl, null);
      assert.ok(Math.abs(Date.parse(user.createdAt) - Date.now()) < 60_000);
      assert.equal(setCookies(res).length, 0);
      assert.equal((await login({ username, password: PASSWORD })).status, 200);
    });

    test('email is optional and may be null', async () => {
      const a = await register({ username: uniqueName(), password: PASSWORD });
      assert.equal(a.status, 201);
      assert.equal(a.body.user.email, null);
      const b = await register({ username: uniqueName(), password: PASSWORD, email: null });
      assert.equal(b.status, 201);
      assert.equal(b.body.user.email, null);
    });

    test('session "token" also signs in and returns a bearer token', async () => {
      const res = await register({ username: uniqueName(), password: PASSWORD, session: 'token' });
      assert.equal(res.status, 201);
      assert.match(res.body.token, TOKEN_PATTERN);
      const expiresAt = Date.parse(res.body.expiresAt);
      assert.ok(Math.abs(expiresAt - (Date.now() + server.config.sessionTtlMs)) < 60_000, 'expires one TTL from now');
      assert.equal(setCookies(res).length, 0);
      const me = await get('/api/me', { token: res.body.token });
      assert.equal(me.status, 200);
      assert.equal(me.body.user.id, res.body.user.id);
    });

    test('session "cookie" sets an HttpOnly SameSite=Strict cookie and keeps the token out of the body', async () => {
      const res = await register({ username: uniqueName(), password: PASSWORD, session: 'cookie' }, { origin: url });
      assert.equal(res.status, 201);
      assert.equal(res.body.token, undefined);
      assert.equal(typeof res.body.expiresAt, 'string');
      const line = sessionCookie(res);
      const attributes = line.split(';').map((a) => a.trim().toLowerCase());
      assert.ok(attributes.includes('httponly'), line);
      assert.ok(attributes.includes('samesite=strict'), line);
      assert.ok(attributes.includes('path=/'), line);
      assert.ok(!attributes.includes('secure'), `no Secure over plain http: ${line}`);
      const maxAge = Number(attributes.find((a) => a.startsWith('max-age='))?.split('=')[1]);
      assert.ok(Math.abs(maxAge - server.config.sessionTtlMs / 1000) < 60, `Max-Age ${maxAge} is about one TTL`);
      assert.match(cookieValue(line), TOKEN_PATTERN);
      const me = await get('/api/me', { cookie: cookieValue(line) });
      assert.equal(me.status, 200);
      assert.equal(me.body.user.id, res.body.user.id);
    });

    test('session "cookie" needs an allowed Origin, and a refused attempt creates nothing', async () => {
      const username = uniqueName();
      expectError(await register({ username, password: PASSWORD, session: 'cookie' }), 403, 'forbidden_origin');
      expectError(await register({ username, password: PASSWORD, session: 'cookie' }, { origin: 'https://evil.example' }), 403, 'forbidden_origin');
      assert.equal((await register({ username, password: PASSWORD, session: 'cookie' }, { origin: url })).status, 201);
    });

    test('accepts the boundary lengths', async () => {
      const short = `a${uniqueName().slice(-2)}`;
      assert.equal(short.length, 3);
      assert.equal((await register({ username: short, password: 'x'.repeat(LIMITS.passwordMin) })).status, 201);
      const long = (uniqueName('L') + 'x'.repeat(40)).slice(0, LIMITS.usernameMax);
      assert.equal((await register({ username: long, password: 'x'.repeat(LIMITS.passwordMax) })).status, 201);
      assert.equal((await register({ username: `a.b-c_${uniqueName().slice(-6)}`, password: PASSWORD })).status, 201);
    });

    const fieldCases: { name: string; body: Record<string, unknown>; field: string }[] = [
      { name: 'username too short', body: { username: 'ab', password: PASSWORD }, field: 'username' },
      { name: 'username too long', body: { username: 'a'.repeat(LIMITS.usernameMax + 1), password: PASSWORD }, field: 'username' },
      { name: 'username with a space', body: { username: 'bad name', password: PASSWORD }, field: 'username' },
      { name: 'username with punctuation', body: { username: 'bad!name', password: PASSWORD }, field: 'username' },
      { name: 'username with non-ASCII letters', body: { username: 'jürgen', password: PASSWORD }, field: 'username' },
      { name: 'username not a string', body: { username: 12345, password: PASSWORD }, field: 'username' },
      { name: 'username missing', body: { password: PASSWORD }, field: 'username' },
      { name: 'password too short', body: { username: 'okname', password: 'x'.repeat(LIMITS.passwordMin - 1) }, field: 'password' },
      { name: 'password too long (129)', body: { username: 'okname', password: 'x'.repeat(LIMITS.passwordMax + 1) }, field: 'password' },
      { name: 'password missing', body: { username: 'okname' }, field: 'password' },
      { name: 'email without @', body: { username: 'okname', password: PASSWORD, email: 'not-an-email' }, field: 'email' },
      { name: 'email with a space', body: { username: 'okname', password: PASSWORD, email: 'a b@example.com' }, field: 'email' },
      { name: 'email too long', body: { username: 'okname', password: PASSWORD, email: `${'a'.repeat(250)}@example.com` }, field: 'email' },
      { name: 'unknown session mode', body: { username: 'okname', password: PASSWORD, session: 'jwt' }, field: 'session' },
      { name: 'unknown field', body: { username: 'okname', password: PASSWORD, isAdmin: true }, field: 'isAdmin' },
    ];
    for (const c of fieldCases) {
      test(`400 validation_failed naming the field: ${c.name}`, async () => {
        const error = expectError(await register(c.body), 400, 'validation_failed');
        const fields = error.details?.fields ?? {};
        assert.equal(typeof fields[c.field], 'string', `fields.${c.field} in ${JSON.stringify(error)}`);
        assert.ok(fields[c.field]!.length > 0);
        if (c.field === 'isAdmin') assert.equal(fields.isAdmin, 'Unknown field.');
        assert.match(error.message, new RegExp(c.field));
      });
    }

    test('several bad fields are all reported at once', async () => {
      const error = expectError(await register({ username: 'x', password: 'short', email: 'nope' }), 400, 'validation_failed');
      assert.deepEqual(Object.keys(error.details?.fields ?? {}).sort(), ['email', 'password', 'username']);
    });

    test('a body that is not JSON -> 400 invalid_json', async () => {
      expectError(await post('/api/register', { raw: '{"username": "alice", ' }), 400, 'invalid_json');
      expectError(await post('/api/register', { raw: "{'username': 'alice'}" }), 400, 'invalid_json');
    });

    test('a JSON body that is not an object -> 400 validation_failed', async () => {
      for (const raw of ['[]', '"alice"', '42', 'null', 'true']) {
        const error = expectError(await post('/api/register', { raw }), 400, 'validation_failed');
        assert.equal(error.details?.fields?.['(body)'], 'Expected a JSON object.', raw);
      }
    });

    test('a missing body -> 400 (empty JSON body is invalid_json; no body at all fails validation)', async () => {
      expectError(await post('/api/register', { contentType: 'application/json' }), 400, 'invalid_json');
      const error = expectError(await post('/api/register'), 400, 'validation_failed');
      assert.ok(error.details?.fields?.['(body)']);
    });

    test('a content type other than JSON -> 415 unsupported_media_type', async () => {
      const body = JSON.stringify({ username: uniqueName(), password: PASSWORD });
      expectError(await post('/api/register', { raw: body, contentType: 'application/xml' }), 415, 'unsupported_media_type');
      expectError(await post('/api/register', { raw: 'username=alice&password=x', contentType: 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
    });

    test('a JSON body sent as text/plain (fetch\'s default for strings) is refused with 415, not misread', async () => {
      const body = JSON.stringify({ username: uniqueName(), password: PASSWORD });
      expectError(await post('/api/register', { raw: body, contentType: 'text/plain;charset=UTF-8' }), 415, 'unsupported_media_type');
    });

    test('409 username_taken, case-insensitively, with fields.username', async () => {
      const name = uniqueName('Alice');
      assert.equal((await register({ username: name, password: PASSWORD })).status, 201);
      for (const variant of [name, name.toLowerCase(), name.toUpperCase()]) {
        const error = expectError(await register({ username: variant, password: PASSWORD }), 409, 'username_taken');
        assert.equal(typeof error.details?.fields?.username, 'string');
      }
    });

    test('409 email_taken, case-insensitively, with fields.email', async () => {
      const email = `${uniqueName('mail')}@Example.com`;
      assert.equal((await register({ username: uniqueName(), password: PASSWORD, email })).status, 201);
      const error = expectError(await register({ username: uniqueName(), password: PASSWORD, email: email.toUpperCase() }), 409, 'email_taken');
      assert.equal(typeof error.details?.fields?.email, 'string');
    });

    test('concurrent registrations of one name: exactly one 201, the rest 409 username_taken', async () => {
      const name = uniqueName('Racer');
      const variants = Array.from({ length: 10 }, (_, i) => (i % 2 ? name.toUpperCase() : name.toLowerCase()));
      const results = await Promise.all(variants.map((username) => register({ username, password: PASSWORD, session: 'token' })));
      const created = results.filter((r) => r.status === 201);
      assert.equal(created.length, 1, results.map((r) => r.status).join(','));
      for (const r of results.filter((x) => x.status !== 201)) expectError(r, 409, 'username_taken');
      assert.equal((await login({ username: name, password: PASSWORD })).body.user.id, created[0]!.body.user.id);
    });

    test('concurrent registrations with one email: exactly one 201, the rest 409 email_taken', async () => {
      const email = `${uniqueName('race')}@example.com`;
      const results = await Promise.all(
        Array.from({ length: 10 }, () => register({ username: uniqueName('r'), password: PASSWORD, email })),
      );
      assert.equal(results.filter((r) => r.status === 201).length, 1, results.map((r) => r.status).join(','));
      for (const r of results.filter((x) => x.status !== 201)) expectError(r, 409, 'email_taken');
    });
  });

  describe('POST /api/login', () => {
    let username: string;
    let email: string;
    let userId: number;
    before(async () => {
      username = uniqueName('Login');
      email = `${username.toLowerCase()}@example.com`;
      const res = await register({ username, password: PASSWORD, email });
      userId = res.body.user.id;
    });

    test('by username: 200 with user, token and expiresAt', async () => {
      const res = await login({ username, password: PASSWORD });
      assert.equal(res.status, 200);
      assert.equal(res.body.user.id, userId);
      assert.equal(res.body.user.username, username);
      assert.equal(res.body.user.email, email);
      assert.match(res.body.token, TOKEN_PATTERN);
      assert.ok(Date.parse(res.body.expiresAt) > Date.now());
      assert.equal((await get('/api/me', { token: res.body.token })).status, 200);
    });

    test('by username in any case', async () => {
      for (const variant of [username.toLowerCase(), username.toUpperCase()]) {
        const res = await login({ username: variant, password: PASSWORD });
        assert.equal(res.status, 200, variant);
        assert.equal(res.body.user.username, username, 'answers with the registered spelling');
      }
    });

    test('by email, in any case', async () => {
      for (const variant of [email, email.toUpperCase()]) {
        const res = await login({ email: variant, password: PASSWORD });
        assert.equal(res.status, 200, variant);
        assert.equal(res.body.user.id, userId);
      }
    });

    test('each login is its own session', async () => {
      const a = await login({ username, password: PASSWORD });
      const b = await login({ username, password: PASSWORD });
      assert.notEqual(a.body.token, b.body.token);
      assert.equal((await post('/api/logout', { token: a.body.token })).status, 204);
      assert.equal((await get('/api/me', { token: b.body.token })).status, 200);
    });

    test('session "cookie" sets the cookie (with an allowed Origin) and omits the token', async () => {
      const res = await login({ username, password: PASSWORD, session: 'cookie' }, { origin: url });
      assert.equal(res.status, 200);
      assert.equal(res.body.token, undefined);
      const me = await get('/api/me', { cookie: cookieValue(sessionCookie(res)) });
      assert.equal(me.status, 200);
      expectError(await login({ username, password: PASSWORD, session: 'cookie' }, { origin: 'https://evil.example' }), 403, 'forbidden_origin');
    });

    test('one identical 401 whether the user exists or not', async () => {
      const wrongPassword = await login({ username, password: 'not the password' });
      const unknownUser = await login({ username: uniqueName('nobody'), password: 'not the password' });
      const unknownEmail = await login({ email: 'nobody@example.com', password: 'not the password' });
      const wrongPasswordByEmail = await login({ email, password: 'not the password' });
      const first = expectError(wrongPassword, 401, 'invalid_credentials');
      for (const res of [unknownUser, unknownEmail, wrongPasswordByEmail]) {
        expectError(res, 401, 'invalid_credentials');
        assert.equal(res.text, wrongPassword.text);
      }
      assert.equal(first.details, undefined, 'no hint about which part was wrong');
    });

    test('validation: neither username nor email, empty password, unknown field, bad session', async () => {
      let error = expectError(await login({ password: PASSWORD }), 400, 'validation_failed');
      assert.ok(error.details?.fields?.username);
      error = expectError(await login({ username, password: '' }), 400, 'validation_failed');
      assert.ok(error.details?.fields?.password);
      error = expectError(await login({ username }), 400, 'validation_failed');
      assert.ok(error.details?.fields?.password);
      error = expectError(await login({ username, password: 'x'.repeat(LIMITS.passwordMax + 1) }), 400, 'validation_failed');
      assert.ok(error.details?.fields?.password);
      error = expectError(await login({ username, password: PASSWORD, remember: true }), 400, 'validation_failed');
      assert.equal(error.details?.fields?.remember, 'Unknown field.');
      error = expectError(await login({ username, password: PASSWORD, session: 'both' }), 400, 'validation_failed');
      assert.ok(error.details?.fields?.session);
      expectError(await post('/api/login', { raw: '{"username":' }), 400, 'invalid_json');
    });
  });

  describe('POST /api/logout and GET /api/me', () => {
    test('GET /api/me with a bearer token: the user and the session expiry', async () => {
      const username = uniqueName('Me');
      const reg = await register({ username, password: PASSWORD, email: `${username}@example.com`, session: 'token' });
      const res = await get('/api/me', { token: reg.body.token });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { user: reg.body.user, session: { expiresAt: reg.body.expiresAt } });
    });

    test('GET /api/me without credentials or with a bad token -> 401', async () => {
      expectError(await get('/api/me'), 401, 'unauthorized');
      expectError(await get('/api/me', { token: 'x'.repeat(43) }), 401, 'unauthorized');
      expectError(await get('/api/me', { token: 'x'.repeat(300) }), 401, 'unauthorized');
      expectError(await get('/api/me', { headers: { authorization: 'Basic YWxpY2U6c2VjcmV0' } }), 401, 'unauthorized');
      expectError(await get('/api/me', { headers: { authorization: 'Bearer' } }), 401, 'unauthorized');
      expectError(await get('/api/me', { cookie: 'not-a-session' }), 401, 'session_expired');
    });

    test('a bearer header wins over a cookie', async () => {
      const a = await register({ username: uniqueName(), password: PASSWORD, session: 'token' });
      const b = await register({ username: uniqueName(), password: PASSWORD, session: 'token' });
      const res = await get('/api/me', { token: a.body.token, cookie: b.body.token });
      assert.equal(res.body.user.id, a.body.user.id);
    });

    test('logout with a bearer token: 204 without any Origin; the token is dead, a second logout is 401', async () => {
      const reg = await register({ username: uniqueName(), password: PASSWORD, session: 'token' });
      const token = reg.body.token as string;
      const res = await post('/api/logout', { token });
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
      expectError(await get('/api/me', { token }), 401, 'unauthorized');
      expectError(await post('/api/logout', { token }), 401, 'unauthorized');
      // Other credentials of the same user are untouched.
      assert.equal((await login({ username: reg.body.user.username, password: PASSWORD })).status, 200);
    });

    test('logout without credentials -> 401', async () => {
      expectError(await post('/api/logout'), 401, 'unauthorized');
    });
  });

  describe('cookie sessions and Origin (CSRF)', () => {
    async function cookieSession(): Promise<string> {
      const res = await register({ username: uniqueName('Ck'), password: PASSWORD, session: 'cookie' }, { origin: url });
      assert.equal(res.status, 201);
      return cookieValue(sessionCookie(res));
    }

    test('reads need no Origin', async () => {
      const cookie = await cookieSession();
      assert.equal((await get('/api/me', { cookie })).status, 200);
      assert.equal((await get('/api/rooms', { cookie })).status, 200);
    });

    test('cookie-authenticated logout without Origin or from a foreign one -> 403 forbidden_origin, session kept', async () => {
      const cookie = await cookieSession();
      const port = new URL(url).port;
      for (const origin of [undefined, 'https://evil.example', 'null', `http://127.0.0.1:${Number(port) + 1}`, `https://127.0.0.1:${port}`, `http://localhost:${port}`]) {
        expectError(await post('/api/logout', { cookie, origin }), 403, 'forbidden_origin');
      }
      assert.equal((await get('/api/me', { cookie })).status, 200, 'refused requests did not sign out');
    });

    test('cookie-authenticated logout from our own origin -> 204, clears the cookie, session gone', async () => {
      const cookie = await cookieSession();
      const res = await post('/api/logout', { cookie, origin: url });
      assert.equal(res.status, 204);
      const cleared = sessionCookie(res);
      assert.match(cleared, /^chatter_session=;/);
      assert.match(cleared, /Expires=Thu, 01 Jan 1970|Max-Age=0/i);
      assert.match(cleared, /Path=\//);
      expectError(await get('/api/me', { cookie }), 401, 'session_expired');
    });

    test('an origin on the allow-list is accepted', async () => {
      const cookie = await cookieSession();
      assert.equal((await post('/api/logout', { cookie, origin: 'https://chat.example.com' })).status, 204);
    });

    test('cookie-authenticated password change needs the Origin too', async () => {
      const cookie = await cookieSession();
      const json = { currentPassword: PASSWORD, newPassword: 'another password' };
      expectError(await put('/api/me/password', { cookie, json }), 403, 'forbidden_origin');
      expectError(await put('/api/me/password', { cookie, json, origin: 'https://evil.example' }), 403, 'forbidden_origin');
      assert.equal((await put('/api/me/password', { cookie, json, origin: url })).status, 204);
    });

    test('bearer-authenticated writes need no Origin', async () => {
      const reg = await register({ username: uniqueName(), password: PASSWORD, session: 'token' });
      const json = { currentPassword: PASSWORD, newPassword: 'another password' };
      assert.equal((await put('/api/me/password', { token: reg.body.token, json })).status, 204);
      assert.equal((await post('/api/logout', { token: reg.body.token })).status, 204);
    });
  });

  describe('PUT /api/me/password', () => {
    test('wrong current password -> 403 wrong_password with fields.currentPassword; nothing changes', async () => {
      const reg = await register({ username: uniqueName('Pw'), password: PASSWORD, session: 'token' });
      const other = await login({ username: reg.body.user.username, password: PASSWORD });
      const error = expectError(
        await put('/api/me/password', { token: reg.body.token, json: { currentPassword: 'not my password', newPassword: 'brand new password' } }),
        403,
        'wrong_password',
      );
      assert.equal(typeof error.details?.fields?.currentPassword, 'string');
      assert.equal((await get('/api/me', { token: other.body.token })).status, 200);
      assert.equal((await login({ username: reg.body.user.username, password: PASSWORD })).status, 200);
      expectError(await login({ username: reg.body.user.username, password: 'brand new password' }), 401, 'invalid_credentials');
    });

    test('validates the new password and the body', async () => {
      const reg = await register({ username: uniqueName('Pw'), password: PASSWORD, session: 'token' });
      const token = reg.body.token as string;
      const cases: [Record<string, unknown>, string][] = [
        [{ currentPassword: PASSWORD, newPassword: 'short' }, 'newPassword'],
        [{ currentPassword: PASSWORD, newPassword: 'x'.repeat(LIMITS.passwordMax + 1) }, 'newPassword'],
        [{ currentPassword: PASSWORD }, 'newPassword'],
        [{ newPassword: 'brand new password' }, 'currentPassword'],
        [{ currentPassword: '', newPassword: 'brand new password' }, 'currentPassword'],
        [{ currentPassword: PASSWORD, newPassword: 'brand new password', confirm: 'x' }, 'confirm'],
        [{ currentPassword: PASSWORD, newPassword: PASSWORD }, 'newPassword'],
        // The same password in another Unicode normalization form is the same password.
        [{ currentPassword: 'caf\u00e9 au lait', newPassword: 'cafe\u0301 au lait' }, 'newPassword'],
      ];
      for (const [json, field] of cases) {
        const error = expectError(await put('/api/me/password', { token, json }), 400, 'validation_failed');
        assert.ok(error.details?.fields?.[field], `${JSON.stringify(json)} -> ${JSON.stringify(error)}`);
      }
      expectError(await put('/api/me/password', { token, raw: '{"currentPassword":' }), 400, 'invalid_json');
      expectError(await put('/api/me/password', { json: { currentPassword: PASSWORD, newPassword: 'brand new password' } }), 401, 'unauthorized');
      assert.equal((await login({ username: reg.body.user.username, password: PASSWORD })).status, 200, 'unchanged');
    });

    test('success: 204; old password refused, new accepted; this session lives, every other session ends', async () => {
      const username = uniqueName('Pw');
      const reg = await register({ username, password: PASSWORD, session: 'token' });
      const current = reg.body.token as string;
      const second = (await login({ username, password: PASSWORD })).body.token as string;
      const third = (await login({ username, password: PASSWORD })).body.token as string;
      const bystander = await register({ username: uniqueName(), password: PASSWORD, session: 'token' });

      const res = await put('/api/me/password', { token: current, json: { currentPassword: PASSWORD, newPassword: 'a whole new secret' } });
      assert.equal(res.status, 204);
      assert.equal(res.text, '');

      assert.equal((await get('/api/me', { token: current })).status, 200);
      expectError(await get('/api/me', { token: second }), 401, 'unauthorized');
      expectError(await get('/api/me', { token: third }), 401, 'unauthorized');
      assert.equal((await get('/api/me', { token: bystander.body.token })).status, 200, "other users' sessions are untouched");
      expectError(await login({ username, password: PASSWORD }), 401, 'invalid_credentials');
      assert.equal((await login({ username, password: 'a whole new secret' })).status, 200);
    });

    test('the revoked sessions are deleted from storage', async () => {
      const username = uniqueName('Pw');
      const reg = await register({ username, password: PASSWORD, session: 'token' });
      await login({ username, password: PASSWORD });
      await login({ username, password: PASSWORD });
      await put('/api/me/password', { token: reg.body.token, json: { currentPassword: PASSWORD, newPassword: 'a whole new secret' } });
      const db = new Database(server.config.dbFile, { readonly: true });
      try {
        const row = db.prepare('SELECT count(*) AS n FROM sessions WHERE user_id = ?').get(reg.body.user.id) as { n: number };
        assert.equal(row.n, 1);
      } finally {
        db.close();
      }
    });
  });

  describe('passwords beyond bcrypt\'s 72 bytes', () => {
    test('two 100-character passwords sharing their first 80 characters are not interchangeable', async () => {
      const prefix = 'p'.repeat(80);
      const first = `${prefix}${'A'.repeat(20)}`;
      const second = `${prefix}${'B'.repeat(20)}`;
      const username = uniqueName('Long');
      assert.equal((await register({ username, password: first })).status, 201);
      expectError(await login({ username, password: second }), 401, 'invalid_credentials');
      expectError(await login({ username, password: prefix.slice(0, 72) }), 401, 'invalid_credentials');
      assert.equal((await login({ username, password: first })).status, 200);
    });

    test('a 128-character multibyte password (384 UTF-8 bytes) works, and only exactly', async () => {
      const password = '密码'.repeat(64);
      assert.equal(password.length, 128);
      assert.equal(Buffer.byteLength(password), 384);
      const username = uniqueName('Cjk');
      assert.equal((await register({ username, password })).status, 201);
      assert.equal((await login({ username, password })).status, 200);
      expectError(await login({ username, password: `${password.slice(0, 127)}密` }), 401, 'invalid_credentials');
      expectError(await login({ username, password: password.slice(0, 100) }), 401, 'invalid_credentials');
    });

    test('the same password in another Unicode normalization form signs in', async () => {
      const composed = 'caf\u00e9 au lait, s\u2019il vous pla\u00eet';
      const decomposed = composed.normalize('NFD');
      assert.notEqual(composed, decomposed);
      const username = uniqueName('Nfc');
      assert.equal((await register({ username, password: composed })).status, 201);
      assert.equal((await login({ username, password: decomposed })).status, 200);
    });
  });

  describe('token storage', () => {
    test('only a 32-byte SHA-256 hash of the token is stored, never the token or the password', async () => {
      const username = uniqueName('Store');
      const password = `pw-${uniqueName('secret')}-unique`;
      const reg = await register({ username, password, session: 'token' });
      const token = (await login({ username, password })).body.token as string;
      const tokens = [reg.body.token as string, token];

      const db = new Database(server.config.dbFile, { readonly: true });
      try {
        const rows = db.prepare('SELECT * FROM sessions WHERE user_id = ?').all(reg.body.user.id) as Record<string, unknown>[];
        assert.equal(rows.length, 2);
        const hashes = tokens.map((t) => createHash('sha256').update(t).digest());
        for (const row of rows) {
          for (const value of Object.values(row)) {
            for (const t of tokens) {
              if (Buffer.isBuffer(value)) assert.ok(!value.includes(Buffer.from(t)), 'token bytes inside a stored value');
              else assert.ok(!String(value).includes(t), 'token inside a stored value');
            }
          }
          const stored = row.token_hash;
          assert.ok(Buffer.isBuffer(stored));
          assert.equal(stored.length, 32);
          assert.ok(hashes.some((h) => h.equals(stored)), 'the stored hash is SHA-256 of one of the tokens');
        }
        const user = db.prepare('SELECT * FROM users WHERE id = ?').get(reg.body.user.id) as Record<string, unknown>;
        assert.match(String(user.password_hash), /^\$2[aby]\$\d\d\$/);
        for (const value of Object.values(user)) assert.ok(!String(value).includes(password));
      } finally {
        db.close();
      }
      // Nothing on disk, WAL included, holds either token or the password in any form.
      for (const file of [server.config.dbFile, `${server.config.dbFile}-wal`]) {
        if (!existsSync(file)) continue;
        const bytes = readFileSync(file);
        for (const secret of [...tokens, password]) assert.ok(!bytes.includes(Buffer.from(secret)), `${secret} found in ${file}`);
      }
    });
  });
});

describe('session expiry (TTL 3 s)', { concurrency: true }, () => {
  const ttl = 3000;
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ sessionTtlMs: ttl, webDir: NO_WEB });
  });
  after(() => server.close());

  const me = (token: string) => call(server.url, 'GET', '/api/me', { token });
  const until = (epochMs: number) => sleep(Math.max(0, epochMs - Date.now()));

  test('an unused token works until it expires, then is refused and deleted', async () => {
    const reg = await call(server.url, 'POST', '/api/register', { json: { username: uniqueName('Ttl'), password: PASSWORD, session: 'token' } });
    const token = reg.body.token as string;
    const expiresAt = Date.parse(reg.body.expiresAt);
    assert.ok(expiresAt - Date.now() <= ttl && expiresAt - Date.now() > ttl / 2);

    const early = await me(token);
    assert.equal(early.status, 200);
    // Sliding writes happen at most every min(1 h, TTL/2): a use this early does not move the expiry.
    assert.equal(early.body.session.expiresAt, reg.body.expiresAt);

    await until(expiresAt + 300);
    expectError(await me(token), 401, 'unauthorized');
    const hash = createHash('sha256').update(token).digest();
    assert.equal(await server.app.store.getSessionByTokenHash(hash), null, 'the expired session row is deleted');
    expectError(await call(server.url, 'POST', '/api/logout', { token }), 401, 'unauthorized');
  });

  test('sliding: a token used after half its TTL is extended and outlives its original expiry', async () => {
    const reg = await call(server.url, 'POST', '/api/register', { json: { username: uniqueName('Slide'), password: PASSWORD, session: 'token' } });
    const token = reg.body.token as string;
    const original = Date.parse(reg.body.expiresAt);
    const createdAt = original - ttl;

    await until(createdAt + ttl / 2 + 200);
    const first = await me(token);
    assert.equal(first.status, 200);
    const extended = Date.parse(first.body.session.expiresAt);
    assert.ok(extended >= original + ttl / 2, `extended from ${original} to ${extended}`);

    // Past the original expiry, and more than TTL/2 after the first extension so it moves again.
    await until(Math.max(original + 300, extended - ttl + ttl / 2 + 200));
    const second = await me(token);
    assert.equal(second.status, 200, 'still valid after its original expiry');
    const extendedAgain = Date.parse(second.body.session.expiresAt);
    assert.ok(extendedAgain > extended);

    // Left alone, it expires one TTL after its last extension.
    await until(extendedAgain + 300);
    expectError(await me(token), 401, 'unauthorized');
  });
});

describe('logs', () => {
  test('never contain passwords or tokens, query strings and WebSocket URLs included', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chatter-logs-'));
    const proc = await spawnServer({ dataDir, env: { CHATTER_LOG_LEVEL: 'debug', CHATTER_WEB_DIR: NO_WEB } });
    try {
      const url = proc.url;
      const password = `Pw-${uniqueName('logsecret')}-A`;
      const newPassword = `Pw-${uniqueName('logsecret')}-B`;
      const wrongPassword = `Pw-${uniqueName('logsecret')}-C`;
      const malformedSecret = `Pw-${uniqueName('logsecret')}-D`;
      const username = uniqueName('Logs');
      const secrets: string[] = [password, newPassword, wrongPassword, malformedSecret];

      const reg = await call(url, 'POST', '/api/register', { json: { username, password, email: `${username}@example.com`, session: 'token' } });
      assert.equal(reg.status, 201);
      const token = reg.body.token as string;
      secrets.push(token);
      const byEmail = await call(url, 'POST', '/api/login', { json: { email: `${username}@example.com`, password } });
      secrets.push(byEmail.body.token);
      const cookieLogin = await call(url, 'POST', '/api/login', { json: { username, password, session: 'cookie' }, origin: url });
      const cookie = cookieValue(sessionCookie(cookieLogin));
      secrets.push(cookie);
      expectError(await call(url, 'POST', '/api/login', { json: { username, password: wrongPassword } }), 401, 'invalid_credentials');
      expectError(await call(url, 'POST', '/api/login', { raw: `{"username":"${username}","password":"${malformedSecret}"` }), 400, 'invalid_json');
      expectError(await call(url, 'POST', '/api/register', { json: { username: 'x', password: wrongPassword } }), 400, 'validation_failed');

      assert.equal((await call(url, 'GET', `/api/me?token=${token}`, { token })).status, 200);
      assert.equal((await call(url, 'GET', `/api/rooms?x=1&token=${token}&y=2`, { cookie })).status, 200);
      assert.equal((await call(url, 'GET', `/api/me?TOKEN=${token}`)).status, 401);

      const viaQuery = connect(proc.wsUrl, { token, via: 'query' });
      await viaQuery.next('hello');
      const viaFrame = connect(proc.wsUrl);
      await viaFrame.opened;
      viaFrame.send({ type: 'auth', token });
      await viaFrame.next('hello');
      const refused = connect(proc.wsUrl, { token: `${token.slice(0, 40)}zzz`, via: 'query', origin: 'https://evil.example' });
      await refused.opened.catch(() => {});
      await Promise.all([viaQuery.close(), viaFrame.close()]);

      const changed = await call(url, 'PUT', '/api/me/password', { token, json: { currentPassword: password, newPassword } });
      assert.equal(changed.status, 204);
      assert.equal((await call(url, 'POST', '/api/logout', { token })).status, 204);

      assert.equal(await proc.stop(), 0, 'graceful exit flushes the logs');
      const output = proc.output();
      // The capture works and request logging was on: the redacted URL itself is there.
      assert.match(output, /user registered/);
      assert.match(output, /token=\[redacted\]/);
      for (const secret of secrets) {
        assert.ok(!output.includes(secret), `a secret reached the logs: ${secret}\n${output}`);
      }
      // Partial leaks (a token cut at 20 characters) count too.
      for (const t of [token, byEmail.body.token as string, cookie]) assert.ok(!output.includes(t.slice(0, 20)));
    } finally {
      await proc.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
