import { ChatterClient } from '@chatter/client';
import { startTestServer, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { browserSkipReason, contextOptions, ensureBuilt, launch, register, reportCspViolations, sendMessage, shot, watchErrors } from './harness.js';

/*
 * The app stays up. Bursts of live messages at several window sizes. Each arrival re-measures rows and moves the
 * pinned view; this once looped until React gave up with error 185 ("Maximum update depth
 * exceeded"), blanking the app. Every message must end up in the list, with no error on the page.
 * And when a part of the screen does fail, only that part is lost, and it can be reloaded.
 */

const skip = browserSkipReason();

const SIZES = [
  { name: 'desktop', kind: 'desktop', viewport: { width: 1280, height: 800 } },
  { name: 'small desktop', kind: 'desktop', viewport: { width: 1000, height: 600 } },
  { name: 'phone', kind: 'phone', viewport: { width: 390, height: 844 } },
] as const;

describe('the app stays up', { skip: skip ?? false }, () => {
  let browser: Browser;

  before(async () => {
    await ensureBuilt();
    browser = await launch({ scrollbars: true });
  });
  after(async () => {
    await browser?.close();
  });

  /**
   * A fresh server per window size, so each list starts empty and its scrollbar appears during the
   * burst (that first narrowing re-wraps every row). The burst comes from one account in Node; its
   * send budget is raised so that the messages arrive at once.
   */
  async function room(): Promise<{ server: TestServer; client: ChatterClient; burst: (texts: string[]) => Promise<void>; close: () => Promise<void> }> {
    const server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
    const poster = await server.register('poster');
    const client = new ChatterClient({ url: server.url, token: poster.token, WebSocket: WebSocket as never, history: 0 });
    await new Promise<void>((resolve) => {
      const off = client.on('status', (s) => s.status === 'online' && (off(), resolve()));
      client.connect();
    });
    /** All at once (one synchronous loop: the frames leave back to back); resolves once every one is stored. */
    const burst = async (texts: string[]) => {
      const stored = new Promise<void>((resolve) => {
        const off = client.on('outbox', (items) => items.length === 0 && (off(), resolve()));
      });
      for (const text of texts) client.send('general', text);
      await stored;
    };
    return {
      server,
      client,
      burst,
      async close() {
        client.close();
        await server.close();
      },
    };
  }

  /**
   * Every bubble text in the list. The list is windowed, so walk it from the top, a screen at a
   * time, until the bottom, collecting what each screen shows.
   */
  async function allBubbleTexts(page: Page): Promise<Set<string>> {
    const seen = new Set<string>();
    const scroller = page.locator('.message-scroller');
    await scroller.evaluate((el) => (el.scrollTop = 0));
    for (let i = 0; i < 500; i++) {
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      for (const t of await page.locator('.row-msg .bubble-text').allTextContents()) seen.add(t);
      const atBottom = await scroller.evaluate((el) => {
        if (el.scrollHeight - el.scrollTop - el.clientHeight < 2) return true;
        el.scrollTop += el.clientHeight * 0.8;
        return false;
      });
      if (atBottom) return seen;
    }
    throw new Error('never reached the bottom of the list');
  }

  /** Rows of many heights: one line, lines that wrap differently at each width, several lines. */
  const body = (i: number) =>
    [
      '',
      ' lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor https://example.com/a/b/c',
      ' ok',
      '\nsecond line\nthird line',
      ' a longer message that wraps onto two or three lines in a bubble on most window widths, with a link www.example.org/docs',
    ][i % 5]!;

  for (const size of SIZES) {
    test(`${size.name} ${size.viewport.width}x${size.viewport.height}: 60 at once, then 300 at once`, async () => {
      const { server, burst, close } = await room();
      const context = await browser.newContext(contextOptions(size.kind, { viewport: size.viewport }));
      await reportCspViolations(context);
      const page = await context.newPage();
      const errors = watchErrors(page);
      // A crash blanks the list: fail with the page's error rather than a timeout.
      const crashed = new Promise<never>((_, reject) => page.on('pageerror', reject));
      crashed.catch(() => {});
      const shown = (text: string) => Promise.race([page.locator('.bubble-text', { hasText: text }).waitFor(), crashed]);
      const tag = size.viewport.width;
      await register(page, server.url, 'reader');

      const first = Array.from({ length: 60 }, (_, i) => `burst ${tag} a${i}${body(i)}`);
      await burst(first);
      await shown(first.at(-1)!);

      const second = Array.from({ length: 300 }, (_, i) => `burst ${tag} b${i}${body(i)}`);
      await burst(second);
      await shown(second.at(-1)!);
      // The newest message is on screen: the view stayed pinned to the bottom through the burst.
      assert.equal(await page.locator('.message-scroller').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 5), true, 'pinned to the bottom');

      const listed = await allBubbleTexts(page);
      const missing = [...first, ...second].filter((t) => !listed.has(t));
      assert.deepEqual(missing, [], 'every message is in the list');
      assert.equal(await page.getByRole('button', { name: 'Reload' }).count(), 0, 'no error boundary fallback');
      assert.deepEqual(errors, []);
      await context.close();
      await close();
    });
  }

  test('a part that fails shows an apology with Reload; the composer and the sidebar keep working', async () => {
    const { server, client, close } = await room();
    const context = await browser.newContext(contextOptions('desktop'));
    await reportCspViolations(context);
    // A way to make message rows throw while rendering: every row formats its time.
    await context.addInitScript(() => {
      const real = Object.getOwnPropertyDescriptor(Intl.DateTimeFormat.prototype, 'format')!.get!;
      Object.defineProperty(Intl.DateTimeFormat.prototype, 'format', {
        configurable: true,
        get(this: Intl.DateTimeFormat) {
          const format = real.call(this) as (d?: Date | number) => string;
          return (d?: Date | number) => {
            if ((window as { __breakRows?: boolean }).__breakRows) throw new Error('test: a row failed to render');
            return format(d);
          };
        },
      });
    });
    const page = await context.newPage();
    const errors = watchErrors(page, [/test: a row failed to render/]);
    await register(page, server.url, 'reader');
    client.send('general', 'before the failure');
    await page.locator('.bubble-text', { hasText: 'before the failure' }).waitFor();

    await page.evaluate(() => ((window as { __breakRows?: boolean }).__breakRows = true));
    client.send('general', 'this one breaks the list');
    const apology = page.getByRole('alert').filter({ hasText: 'Sorry, the message list stopped working.' });
    await apology.waitFor();
    await shot(page, 'list-failed-desktop-light');

    // The rest of the app is still there and still works: the people online, the composer.
    await page.locator('.user-list').getByText('poster').waitFor();
    const received = new Promise<string>((resolve) => {
      const off = client.on('message', (m) => m.author.username === 'reader' && (off(), resolve(m.text)));
    });
    await sendMessage(page, 'sent while the list is down');
    assert.equal(await received, 'sent while the list is down');

    // Reload brings the list back, with everything that arrived meanwhile.
    await page.evaluate(() => ((window as { __breakRows?: boolean }).__breakRows = false));
    await apology.getByRole('button', { name: 'Reload' }).click();
    await apology.waitFor({ state: 'detached' });
    for (const text of ['before the failure', 'this one breaks the list', 'sent while the list is down']) {
      await page.locator('.bubble-text', { hasText: text }).waitFor();
    }
    assert.equal(await page.locator('.conn[data-status="online"]').count(), 1, 'still connected');
    assert.deepEqual(errors, []);
    await context.close();
    await close();
  });
});
