/**
 * The SDK in a real browser (Chromium via playwright-core), bundled the way an app would bundle it:
 * the browser's own WebSocket and fetch, the page origin as default URL, the session cookie, and
 * the first-frame token transport.
 */
import { startTestServer, type TestServer } from '@chatter/server/testing';
import { build } from 'esbuild';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { uniqueName } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function skipReason(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `Chromium not found at ${CHROMIUM}: SDK browser tests SKIPPED (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === 'true') throw new Error(`${reason}; refusing to skip in CI.`);
  console.warn(`\n!!! ${reason} !!!\n`);
  return reason;
}

/**
 * The page: the SDK bundle plus a few helpers the tests call through page.evaluate, as files beside
 * index.html (the server's Content-Security-Policy allows no inline script, as for the web app).
 */
async function pageFiles(): Promise<Record<string, string>> {
  const entry = join(dirname(fileURLToPath(import.meta.url)), '../src/index.ts');
  const out = await build({ entryPoints: [entry], bundle: true, format: 'iife', globalName: 'Chatter', platform: 'browser', conditions: ['source'], write: false, logLevel: 'silent' });
  const bundle = out.outputFiles[0]!.text;
  assert.ok(!/typebox|TypeCompiler/i.test(bundle), 'no schema compiler in the browser bundle');
  const helpers = `
    window.waitFor = async (cond, what, ms = 10000) => {
      const end = Date.now() + ms;
      while (!cond()) { if (Date.now() > end) throw new Error('timed out: ' + what); await new Promise((r) => setTimeout(r, 10)); }
    };
    window.record = (client) => {
      const rec = { seen: [], statuses: [], ended: [] };
      // What the store shows of general, whenever it changes.
      client.store.subscribeRoom('general', () => { rec.seen = client.store.room('general').messages.map((m) => m.text); });
      client.on('status', (s) => rec.statuses.push(s.status));
      client.on('session_ended', (e) => rec.ended.push(e.code));
      return rec;
    };`;
  return {
    'index.html': '<!doctype html><html><head><meta charset="utf-8"><title>sdk</title></head><body><script src="/sdk.js"></script><script src="/helpers.js"></script></body></html>',
    'sdk.js': bundle,
    'helpers.js': helpers,
  };
}

const skip = skipReason();

describe('SDK in a browser', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  // The page is served by the server itself (as the web app is), so it is same-origin with the API.
  const webDir = mkdtempSync(join(tmpdir(), 'chatter-sdk-page-'));
  before(async () => {
    for (const [name, text] of Object.entries(await pageFiles())) writeFileSync(join(webDir, name), text);
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000, webDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(webDir, { recursive: true, force: true });
  });

  /** A fresh page with its own cookie jar. */
  async function openPage(): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${server.url}/`);
    assert.deepEqual(errors, []);
    return page;
  }

  test('cookie session: same-origin defaults, native WebSocket, chat, logout ends the session', async () => {
    const page = await openPage();
    const username = uniqueName('browser');
    const result = await page.evaluate(async (username) => {
      const { ChatterApi, ChatterClient } = (window as any).Chatter;
      const api = new ChatterApi();
      const reg = await api.register({ username, password: 'correct horse battery', session: 'cookie' });
      const me = await api.me(); // the HttpOnly cookie, which this script cannot read, authenticates
      const client = new ChatterClient({ history: 10 });
      const rec = (window as any).record(client);
      client.connect();
      await (window as any).waitFor(() => client.status === 'online', 'online');
      client.send('general', 'hello from a browser');
      await (window as any).waitFor(() => rec.seen.includes('hello from a browser') && client.pending().length === 0, 'own message back');
      let validation = '';
      try {
        client.send('general', '   ');
      } catch (err: any) {
        validation = `${err.name}:${err.code}:${err.fields.text}`;
      }
      await api.logout();
      await (window as any).waitFor(() => rec.ended.length === 1, 'session_ended');
      return { token: reg.token ?? null, cookieVisible: document.cookie, me: me.user.username, user: client.user.username, statuses: rec.statuses, ended: rec.ended, status: client.status, validation };
    }, username);
    assert.equal(result.token, null, 'cookie mode returns no token');
    assert.equal(result.cookieVisible, '', 'the session cookie is HttpOnly');
    assert.equal(result.me, username);
    assert.equal(result.user, username);
    assert.deepEqual(result.statuses, ['connecting', 'online', 'offline']);
    assert.deepEqual(result.ended, [4002]);
    assert.equal(result.status, 'offline');
    assert.match(result.validation, /^ChatterApiError:validation_failed:.+/);
    await page.context().close();
  });

  test('token session in a browser: first-frame auth, reconnect and resume after a dropped socket', async () => {
    const user = await server.register(uniqueName('btoken'));
    const page = await openPage();
    await page.evaluate(async (token) => {
      const { ChatterClient } = (window as any).Chatter;
      const client = new ChatterClient({ token, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
      (window as any).client = client;
      (window as any).rec = (window as any).record(client);
      client.connect();
      await (window as any).waitFor(() => client.status === 'online', 'online');
    }, user.token);

    let dropped = 0;
    for (const conn of server.app.gateway.hub.connections) {
      if (conn.user.id === user.user.id) {
        conn.ws.terminate();
        dropped++;
      }
    }
    assert.equal(dropped, 1);
    const result = await page.evaluate(async () => {
      const { client, rec, waitFor } = window as any;
      await waitFor(() => client.status === 'reconnecting', 'noticed the drop');
      client.send('general', 'sent while reconnecting');
      await waitFor(() => client.status === 'online' && client.pending().length === 0, 'back online, outbox drained');
      await waitFor(() => rec.seen.includes('sent while reconnecting'), 'delivered');
      return { statuses: rec.statuses, count: rec.seen.filter((t: string) => t === 'sent while reconnecting').length, user: client.user.username };
    });
    assert.equal(result.user, user.username);
    assert.equal(result.count, 1);
    assert.deepEqual(result.statuses.slice(0, 2), ['connecting', 'online']);
    assert.ok(result.statuses.includes('reconnecting'));
    assert.equal(result.statuses.at(-1), 'online');
    await page.evaluate(() => (window as any).client.close());
    await page.context().close();
  });
});
