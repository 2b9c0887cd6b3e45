import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../src/testing.js';
import { call, expectError, type Reply } from './http-helpers.js';
import { uniqueName } from './wsclient.js';

/*
 * Registration costs a bcrypt hash anyone can ask for: it is throttled per address and in total,
 * the hashing queue is bounded, and sign-ins of existing users go before registrations.
 */

const PASSWORD = 'correct horse battery';
const NO_WEB = join(tmpdir(), 'chatter-accounts-no-web-app');

function expectRetryAfter(res: Reply, status: number, code: 'rate_limited' | 'unavailable'): number {
  const error = expectError(res, status, code);
  const retryAfter = error.details?.retryAfter;
  assert.ok(typeof retryAfter === 'number' && Number.isInteger(retryAfter) && retryAfter >= 1, `retryAfter ${retryAfter}`);
  assert.equal(res.headers.get('retry-after'), String(retryAfter));
  return retryAfter;
}

describe('registration throttling (behind a trusted proxy)', () => {
  let server: TestServer;
  let ipCounter = 0;
  const freshIp = () => `10.2.${Math.floor(++ipCounter / 250)}.${(ipCounter % 250) + 1}`;
  const registerFrom = (ip: string) =>
    call(server.url, 'POST', '/api/register', { json: { username: uniqueName('Reg'), password: PASSWORD }, headers: { 'x-forwarded-for': ip } });

  before(async () => {
    server = await startTestServer({ trustProxy: 1, registerMaxPerIp: 3, registerMaxTotal: 8, webDir: NO_WEB });
  });
  after(() => server.close());

  test('per address: the 4th registration within the window is refused with Retry-After; another address is not', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) assert.equal((await registerFrom(ip)).status, 201);
    const wait = expectRetryAfter(await registerFrom(ip), 429, 'rate_limited');
    assert.ok(wait <= server.config.registerIpWindowMs / 1000);
    assert.equal((await registerFrom(freshIp())).status, 201);
  });

  test('in total: past the global limit every address is refused', async () => {
    // 4 registrations so far in this server's window (the test above); 4 more reach the limit of 8.
    const results = await Promise.all(Array.from({ length: 10 }, () => registerFrom(freshIp())));
    assert.equal(results.filter((r) => r.status === 201).length, 4, results.map((r) => r.status).join(','));
    for (const r of results.filter((x) => x.status !== 201)) expectRetryAfter(r, 429, 'rate_limited');
  });
});

describe('the password hashing queue', () => {
  test('is bounded: past it, 503 unavailable with Retry-After, and nothing is stored', async () => {
    const server = await startTestServer({ bcryptCost: 10, hashQueueMax: 2, webDir: NO_WEB });
    try {
      const names = Array.from({ length: 20 }, () => uniqueName('Q'));
      const results = await Promise.all(names.map((username) => call(server.url, 'POST', '/api/register', { json: { username, password: PASSWORD } })));
      const statuses = results.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 201 || s === 503), statuses.join(','));
      assert.ok(statuses.filter((s) => s === 503).length >= 10, `2 run, 2 wait, the rest are refused: ${statuses.join(',')}`);
      for (const [i, r] of results.entries()) {
        if (r.status !== 503) continue;
        expectRetryAfter(r, 503, 'unavailable');
        assert.equal(await server.app.store.getUserByLogin({ username: names[i]! }), null);
      }
    } finally {
      await server.close();
    }
  });

  test('sign-ins refused for a full queue answer 503 and are not counted against the client', async () => {
    const server = await startTestServer({ bcryptCost: 10, hashQueueMax: 1, trustProxy: 1, loginMaxPerIp: 25, webDir: NO_WEB });
    try {
      const first = uniqueName('Full');
      assert.equal((await call(server.url, 'POST', '/api/register', { json: { username: first, password: PASSWORD } })).status, 201);
      const { passwordHash } = (await server.app.store.getUserByLogin({ username: first }))!;
      const names = [first];
      for (let i = 1; i < 20; i++) {
        const user = await server.app.store.createUser({ username: uniqueName('Full'), email: null, passwordHash, createdAt: Date.now() });
        names.push(user.username);
      }
      const headers = { 'x-forwarded-for': '10.3.0.1' };
      const login = (username: string) => call(server.url, 'POST', '/api/login', { json: { username, password: PASSWORD }, headers });
      const results = await Promise.all(names.map(login));
      const statuses = results.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','));
      const refused = statuses.filter((s) => s === 503).length;
      assert.ok(refused >= 10, statuses.join(','));
      for (const r of results.filter((x) => x.status === 503)) expectRetryAfter(r, 503, 'unavailable');
      // Only the attempts that were checked count against the address's 25: the refused ones can all try again.
      for (const [i, r] of results.entries()) {
        if (r.status === 503) assert.equal((await login(names[i]!)).status, 200);
      }
    } finally {
      await server.close();
    }
  });

  test('40 parallel registrations do not hold up a sign-in: it overtakes them, in about the time of a quiet one', async () => {
    // Cost 11 (about 0.15 s per hash) so that 40 hashes take seconds, as the reported 12.6 s did.
    const server = await startTestServer({ bcryptCost: 11, webDir: NO_WEB });
    try {
      const username = uniqueName('Signin');
      assert.equal((await call(server.url, 'POST', '/api/register', { json: { username, password: PASSWORD } })).status, 201);
      const signIn = async () => {
        const started = performance.now();
        const res = await call(server.url, 'POST', '/api/login', { json: { username, password: PASSWORD } });
        assert.equal(res.status, 200, res.text);
        return performance.now() - started;
      };
      const quiet = [await signIn(), await signIn(), await signIn()].sort((a, b) => a - b)[1]!;

      let registered = 0;
      let firstDone!: () => void;
      const firstRegistration = new Promise<void>((resolve) => (firstDone = resolve));
      const flood = Array.from({ length: 40 }, () =>
        call(server.url, 'POST', '/api/register', { json: { username: uniqueName('Flood'), password: PASSWORD } }).then((res) => {
          assert.equal(res.status, 201, res.text);
          registered++;
          firstDone();
        }),
      );
      // Once one registration is done, the other 39 have arrived and wait for the workers.
      await firstRegistration;
      const busy = await signIn();
      const overtaken = 40 - registered;
      await Promise.all(flood);
      assert.ok(overtaken >= 20, `the sign-in finished while ${overtaken} of 40 registrations still waited (it must go first)`);
      assert.ok(busy <= 5 * quiet + 250, `a sign-in took ${busy.toFixed(0)} ms during the flood, ${quiet.toFixed(0)} ms alone`);
    } finally {
      await server.close();
    }
  });
});
