import { ChatterApi, type ChatterClient } from '@chatter/client';
import { startTestServer, storeMessages, type TestServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, ensureBuilt, frames, launch, openAs, openPage, say, screenshotDir, SdkPeople, setScheme, signIn, usersInRoom } from './harness.js';

/*
 * Rooms in the web app, in a real Chromium against a real server: the room list with its sections,
 * badges and order, switching rooms (drafts and scroll kept), the dialogs to browse, create and
 * open conversations, the room's details, read state and notifications, mentions.
 */

const skip = browserSkipReason();
/** Screenshots to look at: artifacts/screenshots/, or WEBROOMS_SHOTS. */
const SHOTS = process.env.WEBROOMS_SHOTS ?? screenshotDir;

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

/** A script that makes the page look hidden or visible (a test cannot hide a headless tab). A string: tsx's helpers do not exist in the page. */
function visibility(state: 'hidden' | 'visible'): string {
  return `Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' }); document.dispatchEvent(new Event('visibilitychange'));`;
}

describe('rooms in the web app', { skip: skip ?? false }, () => {
  let server: TestServer;
  let browser: Browser;
  const people = new SdkPeople();

  before(async () => {
    await ensureBuilt();
    server = await startTestServer();
    browser = await launch();
  });
  after(async () => {
    people.close();
    await browser?.close();
    await server?.close();
  });

  function apiOf(u: TestUser): ChatterApi {
    return new ChatterApi({ baseUrl: server.url, token: u.token });
  }

  /** Someone else, connected from Node through the SDK. */
  const connect = (u: TestUser): Promise<ChatterClient> => people.connect(server, u);

  /**
   * The server's read_state for a room with `unread` left, as another device of the user gets it:
   * the position is stored. (The page clears its own counts before the server confirms.)
   */
  function readState(c: ChatterClient, room: string, unread: number): Promise<void> {
    return new Promise((resolve) => {
      const off = c.on('frame', (f) => {
        if (f.type === 'read_state' && f.room === room && f.unread === unread) {
          off();
          resolve();
        }
      });
    });
  }

  const row = (page: Page, name: string) => page.locator('.room-list li').filter({ has: page.locator('.room-name', { hasText: new RegExp(`^${name}$`) }) });
  const renders = async (page: Page) =>
    Object.fromEntries(await page.locator('.room-list li').evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-room'), Number(li.getAttribute('data-renders'))])));
  const names = (page: Page, section: 'Rooms' | 'Direct messages') => page.getByRole('list', { name: section, exact: true }).locator('.room-name').allInnerTexts();

  test('the room list: sections, badges, order by activity; one room never re-renders another; drafts and scroll kept per room', async () => {
    const {
      users: [ana, bo],
      rooms: [design, random],
    } = await usersInRoom(server, ['ana', 'bob'], { owner: 'bob', name: 'design', topic: 'Pixels and people' }, { owner: 'bob', name: 'random' });
    const boApi = apiOf(bo);
    const dm = (await boApi.openDm([ana.user.id])).room;
    // A long general, to scroll in.
    const t0 = Date.now() - 3_600_000;
    await storeMessages(server, Array.from({ length: 80 }, (_, i) => ({ roomId: 'general', authorId: bo.user.id, clientId: `seed-${i}`, text: `general message ${i}`, createdAt: t0 + i * 1000 })));
    const boc = await connect(bo);
    await say(boc, 'general is the newest', 'general');
    await apiOf(ana).markRead('general', (await boApi.room('general')).room.lastSeq);

    const { page, context, errors } = await openAs(browser, server, 'ana');
    // Most recently active first: general has the newest message; the DM is in its own section.
    assert.equal((await names(page, 'Rooms'))[0], 'general');
    assert.deepEqual((await names(page, 'Rooms')).sort(), ['design', 'general', 'random']);
    assert.deepEqual(await names(page, 'Direct messages'), ['bob']);
    assert.equal(await page.title(), 'Chatter');

    // A message in random: its row gets a badge and goes first; no other row renders again.
    const before = await renders(page);
    await say(boc, 'anyone here?', random.id);
    await row(page, 'random').locator('.unread-badge', { hasText: '1' }).waitFor();
    assert.equal((await names(page, 'Rooms'))[0], 'random');
    const afterRandom = await renders(page);
    for (const id of Object.keys(before)) if (id !== random.id) assert.equal(afterRandom[id], before[id], `row ${id} rendered again for a message in random`);
    assert.ok(afterRandom[random.id]! > before[random.id]!, 'the random row rendered');

    // Typing in design re-renders nothing in the list (the row shows counts, not typing).
    boc.typing(design.id);
    await say(boc, 'marker after typing', dm.id);
    await row(page, 'bob').locator('.unread-badge', { hasText: '1' }).waitFor();
    const afterDm = await renders(page);
    for (const id of Object.keys(before)) if (id !== dm.id) assert.equal(afterDm[id], afterRandom[id], `row ${id} rendered again for a DM or typing elsewhere`);

    // A mention is its own badge; the title counts every unread message.
    await say(boc, '@ana can you look at the mockups?', design.id);
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
    await frames(page); // the scroll event has set the anchor
    const leftAt = await firstVisible();

    await row(page, 'design').locator('a').click();
    await page.getByLabel('Message #design').waitFor();
    assert.equal(await page.getByLabel('Message #design').inputValue(), '');
    assert.match(page.url(), new RegExp(`#${design.id}$`));
    await page.getByRole('heading', { name: 'design', exact: true }).waitFor();
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
    const { page, context, errors } = await openAs(browser, server, 'ana', 'phone');
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

  test('phone: the menu button shows when other rooms call (unread, mentions; not muted ones), and clears', async () => {
    const {
      users: [pat, quy],
      rooms: [side, hush],
    } = await usersInRoom(server, ['pat', 'quy'], { owner: 'quy', name: 'side' }, { owner: 'quy', name: 'hush' });
    await apiOf(pat).updateMembership(hush.id, { notify: 'none' });
    const { page, context, errors } = await openAs(browser, server, 'pat', 'phone');
    const menuButton = page.locator('.menu-btn');
    assert.equal(await menuButton.getAttribute('aria-label'), 'Open menu');
    const qc = await connect(quy);
    // A muted room does not call; a marker in general (the open room) proves it arrived first.
    await say(qc, 'quiet please', hush.id);
    await say(qc, 'marker one', 'general');
    await page.locator('.bubble-text', { hasText: 'marker one' }).waitFor();
    assert.equal(await menuButton.getAttribute('aria-label'), 'Open menu');
    assert.equal(await menuButton.locator('.menu-badge').count(), 0);
    await say(qc, 'over here', side.id);
    await page.waitForFunction(() => document.querySelector('.menu-btn')?.getAttribute('aria-label') === 'Open menu: 1 other room with unread messages');
    await menuButton.locator('.menu-badge:not(.mention)').waitFor();
    await say(qc, 'hey @pat', side.id);
    await page.waitForFunction(() => document.querySelector('.menu-btn')?.getAttribute('aria-label') === 'Open menu: 1 other room with unread messages, 1 mention');
    await menuButton.locator('.menu-badge.mention', { hasText: '@1' }).waitFor();
    await looks(page, 'menu-calls-phone');
    // Opening the room answers the call.
    await menuButton.tap();
    await row(page, 'side').locator('a').tap();
    await page.getByLabel('Message #side').waitFor();
    await page.waitForFunction(() => document.querySelector('.menu-btn')?.getAttribute('aria-label') === 'Open menu');
    assert.equal(await menuButton.locator('.menu-badge').count(), 0);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('phone: "Browse rooms" fills the screen with the list, the search stays in view', async () => {
    await server.register('rita');
    // Two makers: one may create ten rooms an hour.
    for (const maker of [await server.register('shelver1'), await server.register('shelver2')]) {
      for (let i = 0; i < 7; i++) await apiOf(maker).createRoom({ name: `shelf-${maker.username}-${i}`, visibility: 'public' });
    }
    const { page, context, errors } = await openAs(browser, server, 'rita', 'phone');
    await page.locator('.menu-btn').tap();
    await page.getByRole('button', { name: 'Browse rooms' }).tap();
    const browse = page.getByRole('dialog', { name: 'Browse rooms' });
    const list = browse.getByRole('list', { name: 'Public rooms' });
    await list.locator('li').nth(14).waitFor();
    const viewport = page.viewportSize()!;
    const box = (await list.boundingBox())!;
    // More rooms than fit: the list reaches the bottom of the screen (a desktop popup's cap was 46%).
    assert.ok(box.y + box.height > viewport.height - 40, `list ends at ${box.y + box.height} of ${viewport.height}`);
    assert.ok(box.y + box.height <= viewport.height + 1, 'the list ends on screen: it scrolls, the page does not');
    assert.ok(await list.evaluate((el) => el.scrollHeight > el.clientHeight), 'the list scrolls');
    const search = (await browse.getByLabel('Search public rooms').boundingBox())!;
    assert.ok(search.y >= 0 && search.y < box.y);
    await looks(page, 'dialog-browse-full-phone');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('dialogs: create a private room, invite, rename, remove, archive; browse and join; DMs 1:1 and in a group, the same people landing in the same one', async () => {
    await server.register('carl');
    const dora = await server.register('dora');
    await server.register('eve');
    const { page, context, errors } = await openAs(browser, server, 'carl');

    // Create a private room: it opens, and is in the list with a lock.
    await page.getByRole('button', { name: 'Create a room' }).click();
    const create = page.getByRole('dialog', { name: 'Create a room' });
    await create.waitFor();
    await create.getByRole('button', { name: 'Create room' }).click();
    await create.getByText('Give the room a name.').waitFor();
    await create.getByLabel('Name').fill('launch');
    await create.getByLabel('Topic').fill('Ship it on Friday');
    await create.getByText('Private', { exact: true }).click();
    await looks(page, 'dialog-create-desktop');
    await create.getByRole('button', { name: 'Create room' }).click();
    await create.waitFor({ state: 'hidden' });
    await page.getByLabel('Message #launch').waitFor();
    await page.getByRole('heading', { name: 'launch', exact: true }).waitFor();
    const launchId = decodeURIComponent(new URL(page.url()).hash.slice(1));
    assert.notEqual(launchId, 'general');

    // Details: members, invite (a private room), rename, remove, archive.
    await page.getByRole('button', { name: 'Members and settings' }).click();
    const details = page.getByRole('dialog', { name: '#launch' });
    await details.getByRole('list', { name: 'Members' }).getByText('carl').waitFor();
    await details.getByLabel('Search people').fill('dor');
    await details.getByRole('button', { name: 'dora' }).click();
    await details.getByRole('button', { name: 'Invite', exact: true }).click();
    await details.getByText('Invited.').waitFor();
    await details.getByRole('list', { name: 'Members' }).getByText('dora').waitFor();
    await looks(page, 'dialog-details-desktop');
    await details.getByLabel('Name').fill('launch-day');
    await details.getByRole('button', { name: 'Save name and topic' }).click();
    await page.getByRole('dialog', { name: '#launch-day' }).getByText('Saved.').waitFor();
    const renamed = page.getByRole('dialog', { name: '#launch-day' });
    await renamed.getByRole('button', { name: 'Remove dora' }).click();
    await renamed.getByRole('list', { name: 'Members' }).getByText('dora').waitFor({ state: 'detached' });
    await renamed.getByRole('button', { name: 'Archive room' }).click();
    await renamed.getByText('Archived.').waitFor();
    await renamed.getByRole('button', { name: 'Close' }).click();
    await page.getByText('This room is archived: it is read-only.').waitFor();
    assert.equal(await page.locator('#composer-input').count(), 0);
    await page.getByRole('heading', { name: 'launch-day', exact: true }).waitFor();

    // Browse public rooms and join one.
    await apiOf(dora).createRoom({ name: 'garden', topic: 'Tomatoes', visibility: 'public' });
    await apiOf(dora).createRoom({ name: 'games', visibility: 'public' });
    await page.getByRole('button', { name: 'Browse rooms' }).click();
    const browse = page.getByRole('dialog', { name: 'Browse rooms' });
    await browse.getByRole('button', { name: 'Join garden' }).waitFor();
    await browse.getByLabel('Search public rooms').fill('gar');
    await browse.getByRole('button', { name: 'Join games' }).waitFor({ state: 'detached' });
    await looks(page, 'dialog-browse-desktop');
    await browse.getByRole('button', { name: 'Join garden' }).click();
    await browse.waitFor({ state: 'hidden' });
    await page.getByLabel('Message #garden').waitFor();

    // A DM from a user search; the same person again lands in the same conversation.
    const startDm = async (people: string[]) => {
      await page.getByRole('button', { name: 'New direct message' }).click();
      const dialog = page.getByRole('dialog', { name: 'New direct message' });
      for (const p of people) {
        await dialog.getByLabel('Search people').fill(p.slice(0, 2));
        await dialog.getByRole('button', { name: p }).click();
        await dialog.getByRole('list', { name: 'Chosen people' }).getByText(p).waitFor();
      }
      if (people.length === 2) await looks(page, 'dialog-dm-desktop');
      await dialog.getByRole('button', { name: people.length > 1 ? /Start group/ : 'Start conversation' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.getByLabel(`Message ${people.join(', ')}`).waitFor();
      return new URL(page.url()).hash;
    };
    const first = await startDm(['dora']);
    await page.getByLabel('Message dora').fill('hello dora');
    await page.getByLabel('Message dora').press('Enter');
    await page.locator('.row-msg.own.state-sent', { hasText: 'hello dora' }).waitFor();
    await row(page, 'general').locator('a').click();
    assert.equal(await startDm(['dora']), first, 'the same person opens the same DM');
    await startDm(['dora', 'eve']);
    assert.deepEqual((await names(page, 'Direct messages')).sort(), ['dora', 'dora, eve']);

    // Leaving a room takes you back to general, and the room out of the list.
    await row(page, 'garden').locator('a').click();
    await page.getByRole('button', { name: 'Members and settings' }).click();
    await page.getByRole('dialog', { name: '#garden' }).getByRole('button', { name: 'Leave room' }).click();
    await page.getByLabel('Message #general').waitFor();
    assert.match(page.url(), /#general$/, 'the address follows');
    await row(page, 'garden').waitFor({ state: 'detached' });

    // Phone: the dialogs fit the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Open menu' }).click();
    await page.getByRole('button', { name: 'Browse rooms' }).click();
    await page.getByRole('dialog', { name: 'Browse rooms' }).getByRole('button', { name: 'Join games' }).waitFor();
    await looks(page, 'dialog-browse-phone');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Open menu' }).click();
    await page.getByRole('button', { name: 'New direct message' }).click();
    await page.getByRole('dialog', { name: 'New direct message' }).getByLabel('Search people').fill('e');
    await page.getByRole('dialog', { name: 'New direct message' }).getByRole('button', { name: 'eve' }).waitFor();
    await looks(page, 'dialog-dm-phone');

    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a room just created or joined opens by its name while its room_joined is still on the way', async () => {
    await server.register('nia');
    const olaf = await server.register('olaf');
    await apiOf(olaf).createRoom({ name: 'harbour', visibility: 'public' });
    const { page, context, errors } = await openPage(browser);
    // From the first room_joined on, what the server sends is held (in order) until the test lets it go: the
    // frame of a loaded server or network that comes after the REST answer.
    let holding = false;
    const held: (() => void)[] = [];
    await page.routeWebSocket(/\/ws/, (ws) => {
      const real = ws.connectToServer();
      real.onMessage((data) => {
        if (typeof data === 'string' && data.includes('"type":"room_joined"')) holding = true;
        if (holding) held.push(() => ws.send(data));
        else ws.send(data);
      });
    });
    const release = () => {
      holding = false;
      for (const send of held.splice(0)) send();
    };
    await signIn(page, server.url, 'nia');
    const title = page.locator('.chat-main h1');

    await page.getByRole('button', { name: 'Create a room' }).click();
    const create = page.getByRole('dialog', { name: 'Create a room' });
    await create.getByLabel('Name').fill('pier');
    await create.getByRole('button', { name: 'Create room' }).click();
    await create.waitFor({ state: 'hidden' });
    // The dialog closes in the render that opens the room: what the header shows now is what the user saw first.
    assert.ok(holding, 'room_joined is held');
    assert.equal(await title.textContent(), 'pier');
    await page.getByLabel('Message #pier').waitFor();
    release();
    // A message sent there is confirmed (its ack comes after the room_joined let go): the room is one room.
    await page.getByLabel('Message #pier').fill('first words');
    await page.getByLabel('Message #pier').press('Enter');
    await page.locator('.row-msg.own:not(:has(.delivery-status))', { hasText: 'first words' }).waitFor();
    assert.equal(await row(page, 'pier').count(), 1);

    await page.getByRole('button', { name: 'Browse rooms' }).click();
    const browse = page.getByRole('dialog', { name: 'Browse rooms' });
    await browse.getByRole('button', { name: 'Join harbour' }).click();
    await browse.waitFor({ state: 'hidden' });
    assert.ok(holding, 'room_joined is held');
    assert.equal(await title.textContent(), 'harbour');
    release();
    await page.getByLabel('Message #harbour').waitFor();

    assert.deepEqual(errors, []);
    await context.close();
  });

  test('read state: opened at "new messages", read only when seen (at the bottom, visible, focused); the title counts unread', async () => {
    const {
      users: [fay, gus],
      rooms: [news],
    } = await usersInRoom(server, ['fay', 'gus'], { owner: 'gus', name: 'news' });
    const t0 = Date.now() - 600_000;
    await storeMessages(server, Array.from({ length: 40 }, (_, i) => ({ roomId: news.id, authorId: gus.user.id, clientId: `news-${i}`, text: `news item ${i}`, createdAt: t0 + i * 1000 })));
    const unreadOnServer = async () => (await apiOf(fay).rooms()).rooms.find((r) => r.id === news.id)!.unread;
    assert.equal(await unreadOnServer(), 40);

    const { page, context, errors } = await openAs(browser, server, 'fay');
    await row(page, 'news').locator('.unread-badge', { hasText: '40' }).waitFor();
    await page.waitForFunction(() => document.title === '(40) Chatter');
    await row(page, 'news').locator('a').click();
    // The divider sits right above the first unread message, at the top of the view.
    const divider = page.getByRole('separator', { name: 'New messages' });
    await divider.waitFor();
    const firstUnread = page.locator('.vlist-row').filter({ has: page.locator('.bubble-text', { hasText: /^news item 0$/ }) });
    await firstUnread.waitFor();
    const box = await divider.boundingBox();
    const scroller = await page.locator('.message-scroller').boundingBox();
    assert.ok(box && scroller && box.y >= scroller.y && box.y < scroller.y + 120, `divider near the top: ${box?.y} in ${scroller?.y}`);
    await looks(page, 'room-unread-desktop');

    // Not at the bottom: nothing is read, even after a new message comes in.
    const gc = await connect(gus);
    // Fay's phone: it hears when the server has stored a read position.
    const phone = await connect(fay);
    await say(gc, 'one more', news.id);
    await page.getByRole('button', { name: /1 new message/ }).waitFor();
    assert.equal(await unreadOnServer(), 41);
    // The title follows the badge after the render (an effect).
    await page.waitForFunction(() => document.title === '(41) Chatter');
    // At the bottom, it is read here and on the server.
    let stored = readState(phone, news.id, 0);
    await page.getByRole('button', { name: /1 new message/ }).click();
    await row(page, 'news').locator('.unread-badge').waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.title === 'Chatter');
    await stored;
    assert.equal(await unreadOnServer(), 0);

    // In a hidden tab, what arrives is not seen, though the room is open and at the bottom.
    await page.evaluate(visibility('hidden'));
    await say(gc, 'while you were away', news.id);
    await page.locator('.bubble-text', { hasText: 'while you were away' }).waitFor();
    await page.waitForFunction(() => document.title === '(1) Chatter');
    assert.equal(await unreadOnServer(), 1);
    stored = readState(phone, news.id, 0);
    await page.evaluate(visibility('visible'));
    await page.waitForFunction(() => document.title === 'Chatter');
    await stored;
    assert.equal(await unreadOnServer(), 0);

    assert.deepEqual(errors, []);
    await context.close();
  });

  test('phone and dark: a room opened at "new messages"', async () => {
    const {
      users: [, ivy],
      rooms: [den],
    } = await usersInRoom(server, ['hal', 'ivy'], { owner: 'ivy', name: 'den', topic: 'Evening talk' });
    const t0 = Date.now() - 600_000;
    await storeMessages(server, Array.from({ length: 30 }, (_, i) => ({ roomId: den.id, authorId: ivy.user.id, clientId: `den-${i}`, text: i % 3 ? `evening note ${i}` : `a longer evening note ${i}, which wraps on a narrow phone screen to show how bubbles grow`, createdAt: t0 + i * 1000 })));
    const { page, context, errors } = await openAs(browser, server, 'hal', 'phone');
    await page.goto(`${server.url}/#${den.id}`);
    await page.getByRole('separator', { name: 'New messages' }).waitFor();
    await looks(page, 'room-unread-phone');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('mentions: "@" offers members first and inserts the name; mentions are highlighted; notifications in a hidden tab by each room\'s level, which follows the user\'s other devices live', async () => {
    const {
      users: [jo, kim],
      rooms: [lab],
    } = await usersInRoom(server, ['jo_1', 'kim'], { owner: 'kim', name: 'lab' });
    await server.register('kimberly');
    const dm = (await apiOf(kim).openDm([jo.user.id])).room;

    const { page, context, errors } = await openPage(browser);
    // Headless Chromium shows no notifications: record them instead, with the permission prompt.
    await context.addInitScript(`
      window.__notes = [];
      window.__asked = 0;
      class FakeNotification {
        static permission = 'default';
        static requestPermission() {
          window.__asked++;
          FakeNotification.permission = 'granted';
          return Promise.resolve('granted');
        }
        constructor(title, opts) {
          this.onclick = null;
          window.__notes.push({ title, body: opts.body });
        }
        close() {}
      }
      Object.defineProperty(window, 'Notification', { value: FakeNotification });
    `);
    await signIn(page, server.url, 'jo_1');
    await page.goto(`${server.url}/#${lab.id}`);
    const composer = page.getByLabel('Message #lab');
    await composer.waitFor();

    // "@ki": kim is in the room, kimberly is not; both are offered, kim first.
    await composer.fill('thanks @ki');
    const list = page.getByRole('listbox', { name: 'People to mention' });
    await list.getByRole('option', { name: 'kimberly' }).waitFor();
    assert.deepEqual((await list.getByRole('option').allInnerTexts()).map((t) => t.split('\n').at(-1)), ['kim', 'kimberly']);
    await look(page, 'mention-autocomplete-desktop-light');
    await composer.press('Enter');
    assert.equal(await composer.inputValue(), 'thanks @kim ');
    await composer.press('End');
    await composer.pressSequentially('for the help');
    await composer.press('Enter');
    const mine = page.locator('.row-msg.own', { hasText: 'for the help' });
    await mine.locator('.mention', { hasText: '@kim' }).waitFor();

    // Turning notifications on asks the browser once.
    await page.getByRole('button', { name: 'Members and settings' }).click();
    const details = page.getByRole('dialog', { name: '#lab' });
    await details.getByRole('button', { name: 'Turn on' }).click();
    await details.getByRole('button', { name: 'Turn off' }).waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { __asked: number }).__asked), 1);
    await looks(page, 'dialog-details-notifications-desktop');
    await details.getByRole('button', { name: 'Close' }).click();

    const kc = await connect(kim);
    const notes = () => page.evaluate(() => (window as unknown as { __notes: { title: string; body: string }[] }).__notes);
    const hide = (hidden: boolean) => page.evaluate(visibility(hidden ? 'hidden' : 'visible'));

    // Visible: nothing, even for a mention (it shows, highlighted).
    await say(kc, 'hey @jo_1 welcome', lab.id);
    await page.locator('.row-msg.mentions-me .mention', { hasText: '@jo_1' }).waitFor();
    await hide(true);
    await say(kc, 'plain chatter in the lab', lab.id);
    await say(kc, '@jo_1 are you there?', lab.id);
    await say(kc, 'a direct question', dm.id);
    await page.waitForFunction(() => (window as unknown as { __notes: unknown[] }).__notes.length >= 2);
    assert.deepEqual(await notes(), [
      { title: 'kim in #lab', body: '@jo_1 are you there?' },
      { title: 'kim', body: 'a direct question' },
    ]);

    // The DM muted: its messages no longer notify (a later mention proves the order).
    await hide(false);
    await row(page, 'kim').locator('a').click();
    await page.getByRole('button', { name: 'Members and settings' }).click();
    const dmDetails = page.getByRole('dialog', { name: 'kim' });
    await dmDetails.getByRole('combobox', { name: 'Notify me about' }).selectOption('none');
    await dmDetails.getByText('Saved.').waitFor();
    await dmDetails.getByRole('button', { name: 'Close' }).click();
    await hide(true);
    await say(kc, 'muted now', dm.id);
    await say(kc, '@jo_1 marker', lab.id);
    await page.waitForFunction(() => (window as unknown as { __notes: unknown[] }).__notes.length >= 3);
    assert.deepEqual((await notes()).slice(2), [{ title: 'kim in #lab', body: '@jo_1 marker' }]);
    // The muted DM says so in the room list, and its unread count is shown muted.
    await row(page, 'kim').locator('a.room-link.muted .unread-badge.muted').waitFor();
    assert.match((await row(page, 'kim').locator('a').getAttribute('aria-label')) ?? '', /muted/);

    // Jo's other device sets #lab to every message: this page follows at once, without a reload,
    // and a plain message in the channel now notifies too.
    await apiOf(jo).updateMembership(lab.id, { notify: 'all' });
    // (The change reaches the page's socket before kim's message: it is sent before the PATCH answers.)
    await say(kc, 'plain chatter, notified now', lab.id);
    await page.waitForFunction(() => (window as unknown as { __notes: unknown[] }).__notes.length >= 4);
    assert.deepEqual((await notes()).slice(3), [{ title: 'kim in #lab', body: 'plain chatter, notified now' }]);
    // And the dialog shows the level the other device chose.
    await hide(false);
    await row(page, 'lab').locator('a').click();
    await page.getByRole('button', { name: 'Members and settings' }).click();
    const labDetails = page.getByRole('dialog', { name: '#lab' });
    assert.equal(await labDetails.getByRole('combobox', { name: 'Notify me about' }).inputValue(), 'all');
    await labDetails.getByRole('button', { name: 'Close' }).click();

    assert.deepEqual(errors, []);
    await context.close();
  });
});
