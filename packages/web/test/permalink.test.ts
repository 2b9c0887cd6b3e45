import type { ChatterClient } from '@chatter/client';
import { startTestServer, storeMessages, type TestServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { browserSkipReason, ensureBuilt, launch, openAs, openPage, repoRoot, say, SdkPeople, shootBothSchemes, signIn, usersInRoom, waitForChat } from './harness.js';

/*
 * Message links as Slack and Discord have them, in a real Chromium against a real server: "Copy
 * link" from the hover toolbar, the keyboard and a phone's long press; the link opened in another
 * page scrolls to its message and highlights it, even 300 messages back; a link clicked in a
 * message opens in the app, and one opened while the app starts is followed; a link that leads
 * nowhere says so. Screenshots in
 * `artifacts/screenshots/permalink`, or $PERMALINK_SHOTS.
 */

const skip = browserSkipReason();
const SHOTS = process.env.PERMALINK_SHOTS ?? `${repoRoot}/artifacts/screenshots/permalink`;
const MISSING = 'That message isn’t there, or you can’t see it.';

/**
 * An init script: on a load armed by `reloadChangingAddress`, set the address once the app shell is
 * in the document. A mutation observer runs in the microtask after React's commit; the effects of a
 * render that no input started run in a later task.
 */
const ADDRESS_ON_START = `{
  const hash = sessionStorage.getItem('test.addressOnStart');
  if (hash !== null) {
    sessionStorage.removeItem('test.addressOnStart');
    new MutationObserver((_, observer) => {
      if (!document.querySelector('.app-shell')) return;
      observer.disconnect();
      location.hash = hash;
    }).observe(document, { childList: true, subtree: true });
  }
}`;

const looks = (page: Page, name: string): Promise<void> => shootBothSchemes(page, SHOTS, name);

describe('message links in the web app', { skip: skip ?? false }, () => {
  let server: TestServer;
  let browser: Browser;
  let bo: TestUser;
  /** A room of Ana's besides general. */
  let aside: string;
  let boc: ChatterClient;
  const people = new SdkPeople();
  /** Message ids of "old 0" ... "old 329", oldest first. */
  const old: number[] = [];

  before(async () => {
    await ensureBuilt();
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
    browser = await launch();
    bo = await server.register('bob');
    await storeMessages(server, Array.from({ length: 330 }, (_, i) => ({ roomId: 'general', authorId: bo.user.id, clientId: `old-${i}`, text: `old ${i}`, createdAt: Date.now() - (330 - i) * 60_000 })));
    for (let before = Number.MAX_SAFE_INTEGER; ; ) {
      const page = await server.app.store.getMessages('general', { before, limit: 100 });
      old.unshift(...page.messages.map((m) => m.id));
      if (!page.hasMore) break;
      before = page.messages[0]!.seq;
    }
    assert.equal(old.length, 330);
    // Registered after: nothing is unread, so the room opens at its end, not at "new messages".
    aside = (await usersInRoom(server, ['ana', 'cyd'], { name: 'aside', owner: 'ana' })).rooms[0].id;
    boc = await people.connect(server, bo);
  });
  after(async () => {
    people.close();
    await browser?.close();
    await server?.close();
  });

  const message = (page: Page, text: string) => page.locator('.row-msg').filter({ has: page.locator('.bubble-text', { hasText: new RegExp(`^${text}$`) }) });
  const link = (id: number) => `${server.url}/#general/m/${id}`;

  /** The row is inside the visible part of the message list. */
  async function inView(page: Page, row: Locator): Promise<void> {
    const [box, list] = await Promise.all([row.boundingBox(), page.locator('.message-scroller').boundingBox()]);
    assert.ok(box && list, 'both on the page');
    assert.ok(box.y >= list.y - 1 && box.y + box.height <= list.y + list.height + 1, `the row (${box.y}-${box.y + box.height}) is within the list (${list.y}-${list.y + list.height})`);
  }

  /**
   * Reload, and change the address the moment the chat screen is in the document: after the screen
   * read the address, before its effects ran, as when a link is pasted into the address bar of a
   * tab still starting. Needs ADDRESS_ON_START in the page's context.
   */
  async function reloadChangingAddress(page: Page, hash: string): Promise<void> {
    await page.evaluate((h) => sessionStorage.setItem('test.addressOnStart', h), hash);
    await page.reload();
  }

  test('desktop: copy a link from the toolbar and the keyboard; opened in another page, the message is in view and highlighted; 300 back too', async () => {
    const a = await openPage(browser);
    await a.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await signIn(a.page, server.url, 'ana');
    const newest = message(a.page, 'old 329');
    await newest.hover();
    await newest.getByRole('toolbar', { name: 'Message actions' }).getByRole('button', { name: 'Copy link' }).click();
    await a.page.getByRole('status').filter({ hasText: 'Link copied' }).waitFor();
    assert.equal(await a.page.evaluate(() => navigator.clipboard.readText()), link(old[329]!));

    // From the keyboard: L on a focused message.
    const previous = message(a.page, 'old 325');
    await previous.focus();
    await a.page.keyboard.press('l');
    await a.page.waitForFunction((want) => navigator.clipboard.readText().then((t) => t === want), link(old[325]!));

    // Another person opens it: the message is shown, in view, highlighted.
    const b = await openAs(browser, server, 'cyd');
    await b.page.goto(link(old[325]!));
    const linked = b.page.locator('.row-msg.linked');
    await linked.waitFor();
    assert.equal(await linked.locator('.bubble-text').innerText(), 'old 325');
    await inView(b.page, linked);

    // 300 back, far beyond what is loaded: the page around it is fetched.
    assert.equal(await message(b.page, 'old 29').count(), 0, 'not loaded before');
    await b.page.goto(link(old[29]!));
    await b.page.locator('.row-msg.linked .bubble-text', { hasText: /^old 29$/ }).waitFor();
    await inView(b.page, b.page.locator('.row-msg.linked'));
    await looks(b.page, 'linked-desktop');
    // Something said meanwhile waits below the pages not loaded yet, not after "old 54".
    boc.send('general', 'live while far back');
    const jump = b.page.getByRole('button', { name: /jump to latest/i });
    await jump.waitFor();
    // Pages loaded below are not "new messages", nor is what is said meanwhile (it is not shown yet).
    assert.equal(await jump.getAttribute('aria-label'), 'Jump to latest messages');
    // Scrolling down loads newer pages until the end meets the live messages.
    await b.page.waitForFunction(
      () => {
        const el = document.querySelector('.message-scroller')!;
        el.scrollTop = el.scrollHeight;
        return [...document.querySelectorAll('.row-msg .bubble-text')].some((e) => e.textContent === 'live while far back');
      },
      undefined,
      { polling: 50 },
    );
    await message(b.page, 'live while far back').waitFor();
    const texts = await b.page.locator('.row-msg .bubble-text').allInnerTexts();
    const at = texts.indexOf('old 329');
    assert.ok(at >= 0 && texts[at + 1] === 'live while far back', `in its place: ${texts.slice(-3).join(' | ')}`);

    // "Jump to latest" from far back: the room's end, live again.
    await b.page.goto(link(old[10]!));
    await b.page.locator('.row-msg.linked .bubble-text', { hasText: /^old 10$/ }).waitFor();
    await b.page.getByRole('button', { name: /jump to latest/i }).click();
    await message(b.page, 'live while far back').waitFor();
    boc.send('general', 'after the jump');
    await message(b.page, 'after the jump').waitFor();
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test('a link in a message opens in the app; one that leads nowhere, or into a private room, says so the same way', async () => {
    const a = await openAs(browser, server, 'ana');
    await say(boc, `see ${link(old[100]!)}`);
    const anchor = a.page.locator('.row-msg .bubble-text a', { hasText: `/m/${old[100]}` });
    await anchor.waitFor();
    assert.equal(await anchor.getAttribute('target'), null, 'not a new tab');
    await anchor.click();
    await a.page.locator('.row-msg.linked .bubble-text', { hasText: /^old 100$/ }).waitFor();
    assert.equal(a.context.pages().length, 1);
    assert.equal(new URL(a.page.url()).hash, `#general/m/${old[100]}`);

    await a.page.goto(`${server.url}/#general/m/999999999`);
    await a.page.getByRole('alert').filter({ hasText: MISSING }).waitFor();
    assert.equal(await a.page.locator('.row-msg.linked').count(), 0);

    // A private room of Bob's that Ana is not in: the same words, and she stays in general.
    const res = await fetch(`${server.url}/api/rooms`, { method: 'POST', headers: { authorization: `Bearer ${bo.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'secret', visibility: 'private' }) });
    const secret = ((await res.json()) as { room: { id: string } }).room.id;
    await a.page.reload();
    await a.page.goto(`${server.url}/#${secret}/m/${old[5]}`);
    await a.page.getByRole('alert').filter({ hasText: MISSING }).waitFor();
    await a.page.waitForFunction(() => location.hash === '#general');
    assert.deepEqual(a.errors, []);
    await a.context.close();
  });

  test('a link opened while the app is starting, from another room, is followed', async () => {
    const a = await openPage(browser);
    await a.context.addInitScript(ADDRESS_ON_START);
    await signIn(a.page, server.url, 'ana');
    await a.page.goto(`${server.url}/#${aside}`);
    await a.page.getByLabel('Message #aside').waitFor();
    await reloadChangingAddress(a.page, `#general/m/${old[100]}`);
    await waitForChat(a.page);
    assert.equal(new URL(a.page.url()).hash, `#general/m/${old[100]}`, 'the address still names the message');
    await a.page.locator('.row-msg.linked .bubble-text', { hasText: /^old 100$/ }).waitFor();
    await inView(a.page, a.page.locator('.row-msg.linked'));
    assert.deepEqual(a.errors, []);
    await a.context.close();
  });

  test('an address that moves on while the app is starting drops the link it named', async () => {
    const a = await openPage(browser);
    await a.context.addInitScript(ADDRESS_ON_START);
    // The windows the page asks for, in order.
    const around: string[] = [];
    a.page.on('websocket', (ws) =>
      ws.on('framesent', (f) => {
        const frame = JSON.parse(String(f.payload)) as { type: string; room?: string; around?: number };
        if (frame.type === 'history' && frame.around !== undefined) around.push(`${frame.room}/m/${frame.around}`);
      }),
    );
    await signIn(a.page, server.url, 'ana');
    await a.page.goto(link(old[100]!));
    await a.page.locator('.row-msg.linked .bubble-text', { hasText: /^old 100$/ }).waitFor();
    around.length = 0;
    await reloadChangingAddress(a.page, `#${aside}`);
    await a.page.getByLabel('Message #aside').waitFor();
    assert.equal(new URL(a.page.url()).hash, `#${aside}`);
    // A later link as the marker: the page asks for its window after any it asked for on connecting.
    await a.page.evaluate((hash) => void (location.hash = hash), `#general/m/${old[200]}`);
    await a.page.locator('.row-msg.linked .bubble-text', { hasText: /^old 200$/ }).waitFor();
    assert.deepEqual(around, [`general/m/${old[200]}`], 'no window was asked for the link the address no longer names');
    assert.deepEqual(a.errors, []);
    await a.context.close();
  });

  test('where the clipboard is refused, the link is shown selected to copy by hand', async () => {
    const a = await openPage(browser);
    await a.context.addInitScript(() => {
      Clipboard.prototype.writeText = () => Promise.reject(new DOMException('Denied', 'NotAllowedError'));
    });
    await signIn(a.page, server.url, 'ana');
    const row = message(a.page, 'old 329');
    await row.hover();
    await row.getByRole('button', { name: 'Copy link' }).click();
    const field = a.page.getByRole('textbox', { name: 'Message link' });
    await field.waitFor();
    assert.equal(await field.inputValue(), link(old[329]!));
    assert.deepEqual(await field.evaluate((el: HTMLInputElement) => [document.activeElement === el, el.selectionStart, el.selectionEnd]), [true, 0, link(old[329]!).length]);
    await a.page.getByRole('button', { name: 'Done' }).click();
    await field.waitFor({ state: 'detached' });
    assert.deepEqual(a.errors, []);
    await a.context.close();
  });

  test('phone: a link opens on its message, highlighted; copy link from the long-press menu', async () => {
    const p = await openPage(browser, 'phone');
    await p.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await signIn(p.page, server.url, 'ana');
    await p.page.goto(link(old[200]!));
    await p.page.locator('.row-msg.linked .bubble-text', { hasText: /^old 200$/ }).waitFor();
    await inView(p.page, p.page.locator('.row-msg.linked'));
    await looks(p.page, 'linked-phone');

    const row = message(p.page, 'old 205');
    const copy = row.getByRole('button', { name: 'Copy link' });
    const box = await row.locator('.bubble').boundingBox();
    assert.ok(box);
    const cdp = await p.context.newCDPSession(p.page);
    const point = { x: box.x + Math.min(box.width / 2, 30), y: box.y + box.height / 2 };
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point] });
    await copy.waitFor();
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await cdp.detach();
    await copy.click();
    await p.page.getByRole('status').filter({ hasText: 'Link copied' }).waitFor();
    assert.equal(await p.page.evaluate(() => navigator.clipboard.readText()), link(old[205]!));
    assert.deepEqual(p.errors, []);
    await p.context.close();
  });
});
