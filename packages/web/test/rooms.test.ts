import { ChatterApi, ChatterClient } from '@chatter/client';
import { startTestServer, storeMessages, type TestServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { browserSkipReason, ensureBuilt, launch, openPage, setScheme, signIn } from './harness.js';

/*
 * Rooms in the web app, in a real Chromium against a real server: the room list with its sections,
 * badges and order, switching rooms (drafts and scroll kept), the dialogs to browse, create and
 * open conversations, the room's details, read state and notifications, mentions.
 */

const skip = browserSkipReason();
/** Screenshots to look at (outside the repository). */
const SHOTS = process.env.WEBROOMS_SHOTS ?? '/work/wt/webrooms-shots';

async function look(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

/** Light and dark. */
async function looks(page: Page, name: string): Promise<void> {
  await look(page, `${name}-light`);
  await setScheme(page, 'dark');
  await look(page, `${name}-dark`);
  await setScheme(page, 'light');
}

describe('rooms in the web app', { skip: skip ?? false }, () => {
  let server: TestServer;
  let browser: Browser;
  const clients: ChatterClient[] = [];

  before(async () => {
    await ensureBuilt();
    server = await startTestServer();
    browser = await launch();
  });
  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    await server?.close();
  });

  function apiOf(u: TestUser): ChatterApi {
    return new ChatterApi({ baseUrl: server.url, token: u.token });
  }

  /** Someone else, connected from Node through the SDK. */
  async function connect(u: TestUser): Promise<ChatterClient> {
    const c = new ChatterClient({ url: server.url, token: u.token, WebSocket });
    clients.push(c);
    const online = new Promise<void>((resolve) => c.on('hello', () => resolve()));
    c.connect();
    await online;
    return c;
  }

  /** Wait until the other client's change is in the room's log (its ack is applied). */
  async function sent(c: ChatterClient, room: string, text: string): Promise<void> {
    const done = new Promise<void>((resolve) => {
      const off = c.on('message', (m) => {
        if (m.room === room && m.text === text) {
          off();
          resolve();
        }
      });
    });
    c.send(room, text);
    await done;
  }

  const row = (page: Page, name: string) => page.locator('.room-list li').filter({ has: page.locator('.room-name', { hasText: new RegExp(`^${name}$`) }) });
  const renders = async (page: Page) =>
    Object.fromEntries(await page.locator('.room-list li').evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-room'), Number(li.getAttribute('data-renders'))])));
  const names = (page: Page, section: 'Rooms' | 'Direct messages') => page.getByRole('list', { name: section, exact: true }).locator('.room-name').allInnerTexts();

  test('the room list: sections, badges, order by activity; one room never re-renders another; drafts and scroll kept per room', async () => {
    const ana = await server.register('ana');
    const bo = await server.register('bob');
    const boApi = apiOf(bo);
    const design = (await boApi.createRoom({ name: 'design', topic: 'Pixels and people', visibility: 'public' })).room;
    const random = (await boApi.createRoom({ name: 'random', visibility: 'public' })).room;
    await apiOf(ana).joinRoom(design.id);
    await apiOf(ana).joinRoom(random.id);
    const dm = (await boApi.openDm([ana.user.id])).room;
    // A long general, to scroll in.
    const t0 = Date.now() - 3_600_000;
    await storeMessages(server, Array.from({ length: 80 }, (_, i) => ({ roomId: 'general', authorId: bo.user.id, clientId: `seed-${i}`, text: `general message ${i}`, createdAt: t0 + i * 1000 })));
    const boc = await connect(bo);
    await sent(boc, 'general', 'general is the newest');
    await apiOf(ana).markRead('general', (await boApi.room('general')).room.lastSeq);

    const { page, context, errors } = await openPage(browser);
    await signIn(page, server.url, 'ana');
    // Most recently active first: general has the newest message; the DM is in its own section.
    assert.equal((await names(page, 'Rooms'))[0], 'general');
    assert.deepEqual((await names(page, 'Rooms')).sort(), ['design', 'general', 'random']);
    assert.deepEqual(await names(page, 'Direct messages'), ['bob']);
    assert.equal(await page.title(), 'Chatter');

    // A message in random: its row gets a badge and goes first; no other row renders again.
    const before = await renders(page);
    await sent(boc, random.id, 'anyone here?');
    await row(page, 'random').locator('.unread-badge', { hasText: '1' }).waitFor();
    assert.equal((await names(page, 'Rooms'))[0], 'random');
    const afterRandom = await renders(page);
    for (const id of Object.keys(before)) if (id !== random.id) assert.equal(afterRandom[id], before[id], `row ${id} rendered again for a message in random`);
    assert.ok(afterRandom[random.id]! > before[random.id]!, 'the random row rendered');

    // Typing in design re-renders nothing in the list (the row shows counts, not typing).
    boc.typing(design.id);
    await sent(boc, dm.id, 'marker after typing');
    await row(page, 'bob').locator('.unread-badge', { hasText: '1' }).waitFor();
    const afterDm = await renders(page);
    for (const id of Object.keys(before)) if (id !== dm.id) assert.equal(afterDm[id], afterRandom[id], `row ${id} rendered again for a DM or typing elsewhere`);

    // A mention is its own badge; the title counts every unread message.
    await sent(boc, design.id, '@ana can you look at the mockups?');
    await row(page, 'design').locator('.mention-badge', { hasText: '@1' }).waitFor();
    await page.waitForFunction(() => document.title === '(3) Chatter');
    await looks(page, 'room-list-desktop');

    // A draft stays with its room; the address names the room.
    const box = page.locator('#composer-input');
    await box.fill('half a thought for general');
    // Scroll general up, to find it there later.
    const scroller = page.locator('.message-scroller');
    await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight / 3));
    await page.locator('.jump-btn').waitFor();
    const firstVisible = () =>
      scroller.evaluate((el) => {
        const top = el.getBoundingClientRect().top;
        const rows = [...el.querySelectorAll('.vlist-row')].filter((r) => r.getBoundingClientRect().bottom > top + 1);
        return rows[0]?.getAttribute('data-key') ?? '';
      });
    await page.waitForTimeout(50); // let the scroll event settle the anchor (no state to wait for)
    const leftAt = await firstVisible();

    await row(page, 'design').locator('a').click();
    await page.getByLabel('Message #design').waitFor();
    assert.equal(await page.getByLabel('Message #design').inputValue(), '');
    assert.match(page.url(), new RegExp(`#${design.id}$`));
    await page.getByRole('heading', { name: 'design' }).waitFor();
    await page.getByText('Pixels and people').first().waitFor();
    // Opened at "new messages", and with everything on screen, read: its badge clears.
    await page.getByRole('separator', { name: 'New messages' }).waitFor();
    await row(page, 'design').locator('.mention-badge').waitFor({ state: 'detached' });
    await page.getByLabel('Message #design').fill('design draft');

    await page.goBack();
    await page.getByLabel('Message #general').waitFor();
    assert.equal(await page.getByLabel('Message #general').inputValue(), 'half a thought for general');
    assert.equal(await firstVisible(), leftAt, 'general opens where it was left');
    await row(page, 'design').locator('a').click();
    assert.equal(await page.getByLabel('Message #design').inputValue(), 'design draft');

    // The DM is named after the other person.
    await row(page, 'bob').locator('a').click();
    await page.getByLabel('Message bob').waitFor();
    await page.locator('.bubble-text', { hasText: 'marker after typing' }).waitFor();
    await page.waitForFunction(() => document.title === '(1) Chatter');

    assert.deepEqual(errors, []);
    await context.close();
  });

  test('phone: the room list is in the side menu, and picking a room closes it', async () => {
    const { page, context, errors } = await openPage(browser, 'phone');
    await signIn(page, server.url, 'ana');
    await page.getByRole('button', { name: 'Open menu' }).tap();
    const menu = page.locator('#sidebar');
    await menu.getByRole('list', { name: 'Direct messages' }).waitFor();
    await looks(page, 'room-list-phone');
    await row(page, 'random').locator('a').tap();
    await menu.waitFor({ state: 'hidden' });
    await page.getByLabel('Message #random').waitFor();
    await looks(page, 'room-phone');
    assert.deepEqual(errors, []);
    await context.close();
  });
});
