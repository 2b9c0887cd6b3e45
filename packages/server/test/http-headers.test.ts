import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call, expectSecurityHeaders, type Reply } from './http-helpers.js';
import { uniqueName } from './wsclient.js';

/* Security headers on everything: the app shell, the API, its errors and 404s. */

describe('security headers', () => {
  let server: TestServer;
  let alice: TestUser;
  const webDir = mkdtempSync(join(tmpdir(), 'chatter-web-'));
  before(async () => {
    writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>shell</title>');
    server = await startTestServer({ webDir });
    alice = await server.register(uniqueName('alice'));
  });
  after(async () => {
    await server.close();
    rmSync(webDir, { recursive: true, force: true });
  });

  test('the app shell', async () => {
    const res = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 200);
    expectSecurityHeaders(res, 'shell', { noStore: false });
    const deep = await fetch(`${server.url}/rooms/general`, { headers: { accept: 'text/html' } });
    expectSecurityHeaders(deep, 'shell fallback', { noStore: false });
  });

  test('API routes, errors and 404s: no-store as well', async () => {
    expectSecurityHeaders(await call(server.url, 'GET', '/api/me', { token: alice.token }), '/api/me', { noStore: true });
    expectSecurityHeaders(await call(server.url, 'GET', '/api/health'), '/api/health', { noStore: true });
    expectSecurityHeaders(expectReply(await call(server.url, 'GET', '/api/rooms'), 401), '401', { noStore: true });
    expectSecurityHeaders(expectReply(await call(server.url, 'POST', '/api/login', { raw: '{' }), 400), 'invalid json', { noStore: true });
    expectSecurityHeaders(expectReply(await call(server.url, 'GET', '/api/nope'), 404), 'api 404', { noStore: true });
    expectSecurityHeaders(expectReply(await call(server.url, 'GET', '/nope.js'), 404), 'static 404', { noStore: false });
  });

  test('pictures keep their immutable caching', async () => {
    const res = await call(server.url, 'GET', '/api/avatars/unknownkey.webp');
    assert.notEqual(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const noChromium = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: SKIPPED (set CHROMIUM_PATH)`;
  if (noChromium && process.env.CI === 'true') throw new Error(`${noChromium}; refusing to skip in CI.`);
  if (noChromium) console.warn(`\n!!! ${noChromium} !!!\n`);

  test('Swagger UI at /docs renders in Chromium under its policy, with no violation reported', { skip: noChromium }, async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on('console', (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
      await page.goto(`${server.url}/docs`);
      await page.locator('.opblock').first().waitFor();
      assert.ok((await page.locator('.opblock').count()) >= 10, 'the operations are listed');
      assert.deepEqual(violations, []);
    } finally {
      await browser.close();
    }
  });

  test('/docs allows inline styles (Swagger UI sets one), never inline scripts', async () => {
    const res = await fetch(`${server.url}/docs`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /style-src 'self' 'unsafe-inline'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
  });
});

function expectReply(res: Reply, status: number): Reply {
  assert.equal(res.status, status, res.text);
  return res;
}
