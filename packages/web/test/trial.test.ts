import { startTestServer, type TestServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { Tmux, type TmuxSession } from '../../cli/test/helpers.js';
import { browserSkipReason, ensureBuilt, launch, openPage, screenshotDir, signIn, waitForChat } from './harness.js';

/*
 * Issue 11's "Done when" trial, as new users would run it: three people in three browsers (Ana,
 * Bob, Cyrus), Bob also in the terminal, and Cyrus on a second device that is offline for all of
 * it. Everything goes through the real UIs (clicks and keys); only the accounts are made over
 * REST (signing up in the browser has its own tests). At the end the device that was away must
 * show what the one that stayed online shows: the room list with its badges and every room's
 * timeline, read from the DOM of both. The terminal's screen is held to the browser's likewise.
 */

const skip = browserSkipReason();
/** Screenshots to look at: artifacts/screenshots/trial/, or TRIAL_SHOTS. */
const SHOTS = process.env.TRIAL_SHOTS ?? join(screenshotDir, 'trial');

/** One timeline row as a person sees it. */
interface SeenRow {
  kind: 'message' | 'membership';
  author?: string;
  text: string;
  deleted?: boolean;
  edited?: boolean;
  reactions?: string[];
  state?: string;
}

/*
 * What the page shows, read in the page. Strings, not functions: tsx's helpers (`__name`) do not
 * exist in the page.
 */
const TIMELINE = `(() => {
  const rows = [...document.querySelectorAll('.message-scroller .vlist-row')]
    .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
  const out = [];
  let author = '';
  for (const row of rows) {
    const system = row.querySelector('.row-system .system-text');
    if (system) { out.push({ kind: 'membership', text: system.textContent.trim() }); continue; }
    const msg = row.querySelector('.row-msg');
    if (!msg) continue;
    const name = msg.querySelector('.msg-author');
    if (name) author = name.textContent.trim();
    const reactions = [...msg.querySelectorAll('.reaction:not(.add)')].map((r) =>
      r.querySelector('.reaction-emoji').textContent + ' ' + r.querySelector('.reaction-count').textContent + (r.getAttribute('aria-pressed') === 'true' ? ' mine' : ''));
    out.push({
      kind: 'message',
      author,
      text: msg.querySelector('.bubble-text').textContent.trim(),
      deleted: msg.querySelector('.tombstone') !== null,
      edited: msg.querySelector('.edited') !== null,
      reactions,
      state: (msg.className.match(/state-[a-z]+/) || [''])[0],
    });
  }
  return out;
})()`;

const ROOM_LIST = `(() => [...document.querySelectorAll('.room-list li')].map((li) => {
  const badge = (sel) => { const b = li.querySelector(sel); return b ? ' ' + b.textContent : ''; };
  return li.closest('ul').getAttribute('aria-label') + ': ' + li.querySelector('.room-name').textContent + badge('.unread-badge') + badge('.mention-badge');
}))()`;

async function timeline(page: Page): Promise<SeenRow[]> {
  return (await page.evaluate(TIMELINE)) as SeenRow[];
}

async function roomList(page: Page): Promise<string[]> {
  return (await page.evaluate(ROOM_LIST)) as string[];
}

/** Wait until `page` shows `expected` (read by `script`), then assert it, so a miss fails with a diff. */
async function waitToShow(page: Page, script: string, expected: unknown, what: string): Promise<void> {
  const want = JSON.stringify(expected);
  await page.waitForFunction(`JSON.stringify(${script}) === ${JSON.stringify(want)}`, undefined, { timeout: 15_000 }).catch(() => {});
  assert.deepEqual(await page.evaluate(script), expected, what);
}

async function look(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

/** The messages on the terminal's screen, in the browser's terms (no times; edits and reactions as flags). */
function terminalMessages(screen: string): { author: string; text: string; deleted: boolean; edited: boolean; reactions: string[] }[] {
  const out = [];
  for (const line of screen.split('\n').slice(1, -1)) {
    const m = /^\d\d:\d\d ([\w.-]+): (.*?)\s*$/.exec(line);
    if (!m) continue;
    let rest = m[2]!;
    const reactions: string[] = [];
    for (let r = /\s\s(\S+) (\d+)$/.exec(rest); r; r = /\s\s(\S+) (\d+)$/.exec(rest)) {
      reactions.unshift(`${r[1]} ${r[2]}`);
      rest = rest.slice(0, r.index);
    }
    const edited = / \(edited \d\d:\d\d\)$/.test(rest);
    rest = rest.replace(/ \(edited \d\d:\d\d\)$/, '');
    const deleted = rest === 'message deleted';
    out.push({ author: m[1]!, text: deleted ? 'Message deleted' : rest, deleted, edited, reactions });
  }
  return out;
}

/** The browser's timeline of a room as the terminal would show it to `self`. */
function asTerminal(rows: SeenRow[], self: string) {
  return rows
    .filter((r) => r.kind === 'message')
    .map((r) => ({
      author: r.author === 'You' ? self : r.author!,
      text: r.text,
      deleted: r.deleted!,
      edited: r.edited!,
      reactions: r.reactions!.map((x) => x.replace(/ mine$/, '')),
    }));
}

describe('the Done-when trial: three browsers and a terminal', { skip: skip ?? false }, () => {
  let server: TestServer;
  let browser: Browser;
  const tmux = new Tmux();

  before(async () => {
    await ensureBuilt();
    server = await startTestServer({ messagesPerSecond: 10_000, messageBurst: 10_000 });
    browser = await launch();
  });
  after(async () => {
    tmux.destroy();
    await browser?.close();
    await server?.close();
  });

  function terminal(u: TestUser): TmuxSession {
    return tmux.start([], { CHATTER_SERVER: server.url, CHATTER_TOKEN: u.token, CHATTER_CONFIG_DIR: '/nonexistent-chatter-trial-config' }, { cols: 100, rows: 30 });
  }

  /**
   * Differences from what is right, collected so that one wrong step does not hide the rest of
   * the trial; the test fails at its end with all of them.
   */
  const problems: string[] = [];
  function check(actual: unknown, expected: unknown, what: string): void {
    try {
      assert.deepEqual(actual, expected);
    } catch (e) {
      problems.push(`${what}:\n${(e as Error).message}`);
    }
  }

  test('rooms, invites, DMs, edits, deletes, reactions and typing live; unread across devices; the device that was away shows the same', async () => {
    await server.register('ana');
    const bobUser = await server.register('bob');
    await server.register('cyrus');

    const ana = await openPage(browser);
    const bob = await openPage(browser);
    const cy = await openPage(browser);
    // Cyrus's second device: its socket goes through a switch the test can open (the network gone).
    const away = await openPage(browser);
    let cut = false;
    const sockets = new Set<WebSocketRoute>();
    await away.page.routeWebSocket(
      (url) => url.pathname === '/ws',
      (ws) => {
        if (cut) return void ws.close({ code: 1001, reason: 'network gone' });
        ws.connectToServer();
        sockets.add(ws);
      },
    );
    const bobTerm = terminal(bobUser);
    await Promise.all([signIn(ana.page, server.url, 'ana'), signIn(bob.page, server.url, 'bob'), signIn(cy.page, server.url, 'cyrus'), signIn(away.page, server.url, 'cyrus')]);
    await bobTerm.waitFor('● online');

    const row = (page: Page, name: string) => page.locator('.room-list li').filter({ has: page.locator('.room-name', { hasText: new RegExp(`^${name}$`) }) });
    const message = (page: Page, text: string) => page.locator('.row-msg').filter({ has: page.locator('.bubble-text', { hasText: text }) });
    const say = async (page: Page, room: string, text: string) => {
      const box = page.getByLabel(`Message ${room}`);
      await box.fill(text);
      await box.press('Enter');
      await page.locator('.row-msg.own.state-sent').filter({ has: page.locator('.bubble-text', { hasText: text }) }).waitFor();
    };
    const act = async (page: Page, text: string, button: string) => {
      const target = message(page, text);
      await target.hover();
      await target.getByRole('toolbar', { name: 'Message actions' }).getByRole('button', { name: button, exact: true }).click();
    };
    const edit = async (page: Page, text: string, to: string) => {
      await act(page, text, 'Edit');
      const box = page.getByLabel('Edit message');
      await box.fill(to);
      await box.press('Enter');
    };
    const remove = async (page: Page, text: string) => {
      await act(page, text, 'Delete');
      await message(page, text).getByRole('button', { name: 'Delete for everyone?' }).click();
    };
    const chip = (page: Page, text: string, emoji: string, count: number) =>
      message(page, text).locator('.reaction').filter({ has: page.locator('.reaction-emoji', { hasText: emoji }) }).filter({ has: page.locator('.reaction-count', { hasText: new RegExp(`^${count}$`) }) });
    const header = (screen: string) => screen.split('\n')[0]!;

    // 1. Ana creates a public room and a private one, and invites Bob to the private one.
    const create = async (name: string, topic: string, visibility: 'Public' | 'Private') => {
      await ana.page.getByRole('button', { name: 'Create a room' }).click();
      const dialog = ana.page.getByRole('dialog', { name: 'Create a room' });
      await dialog.getByLabel('Name').fill(name);
      await dialog.getByLabel('Topic').fill(topic);
      if (visibility === 'Private') await dialog.getByText('Private', { exact: true }).click();
      await dialog.getByRole('button', { name: 'Create room' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await ana.page.getByLabel(`Message #${name}`).waitFor();
    };
    await create('plaza', 'Everyone welcome', 'Public');
    await create('secret', 'Just us', 'Private');
    await ana.page.getByRole('button', { name: 'Members and settings' }).click();
    const details = ana.page.getByRole('dialog', { name: '#secret' });
    await details.getByLabel('Search people').fill('bo');
    await details.getByRole('button', { name: 'bob', exact: true }).click();
    await details.getByRole('button', { name: 'Invite', exact: true }).click();
    await details.getByRole('list', { name: 'Members' }).getByText('bob').waitFor();
    await details.getByRole('button', { name: 'Close' }).click();
    // Bob sees the room arrive, live, and nobody else does.
    await row(bob.page, 'secret').waitFor();

    // 2. Cyrus finds the public room under "browse rooms" and joins it.
    await cy.page.getByRole('button', { name: 'Browse rooms' }).click();
    const browse = cy.page.getByRole('dialog', { name: 'Browse rooms' });
    await browse.getByRole('button', { name: 'Join plaza' }).click();
    await browse.waitFor({ state: 'hidden' });
    await cy.page.getByLabel('Message #plaza').waitFor();
    assert.equal(await row(cy.page, 'secret').count(), 0, 'a private room is not offered to others');

    // 3. First words in the plaza, and a DM Cyrus opens from the new-DM picker by a user search.
    await row(ana.page, 'plaza').locator('a').click();
    await ana.page.locator('.system-text', { hasText: 'cyrus joined' }).waitFor();
    await say(ana.page, '#plaza', 'welcome to the plaza');
    await say(ana.page, '#plaza', 'lunch at noon');
    await message(cy.page, 'lunch at noon').waitFor();
    await say(cy.page, '#plaza', 'oops, wrong room');
    await message(ana.page, 'oops, wrong room').waitFor();
    // The join stays in the timeline above the first message, as it was shown before it.
    check(
      (await timeline(ana.page)).map((r) => `${r.author ?? '·'}: ${r.text}`),
      ['·: cyrus joined', 'You: welcome to the plaza', 'You: lunch at noon', 'cyrus: oops, wrong room'],
      "Ana's plaza after the first messages",
    );
    await cy.page.getByRole('button', { name: 'New direct message' }).click();
    const dm = cy.page.getByRole('dialog', { name: 'New direct message' });
    await dm.getByLabel('Search people').fill('an');
    await dm.getByRole('button', { name: 'ana', exact: true }).click();
    await dm.getByRole('button', { name: 'Start conversation' }).click();
    await dm.waitFor({ state: 'hidden' });
    await say(cy.page, 'ana', 'psst, got a minute?');
    await row(ana.page, 'cyrus').locator('.unread-badge', { hasText: /^1$/ }).waitFor();

    // 4. Cyrus's second device has read all of it; then it goes away, as a laptop closed on a train.
    await row(away.page, 'plaza').locator('a').click();
    await message(away.page, 'oops, wrong room').waitFor();
    await row(away.page, 'ana').locator('a').click();
    await message(away.page, 'psst, got a minute?').waitFor();
    await row(away.page, 'general').locator('a').click();
    await away.page.getByLabel('Message #general').waitFor();
    cut = true;
    await away.context.setOffline(true);
    for (const ws of sockets) await ws.close({ code: 1001, reason: 'network gone' });
    await away.page.locator('.conn[data-status="offline"]').waitFor();

    // 5. Edits, deletes and reactions in the plaza (on messages the away device holds), each seen live.
    await row(cy.page, 'plaza').locator('a').click();
    await cy.page.getByLabel('Message #plaza').waitFor();
    await edit(ana.page, 'lunch at noon', 'lunch at one');
    await message(cy.page, 'lunch at one').locator('.edited').waitFor();
    await remove(cy.page, 'oops, wrong room');
    await ana.page.locator('.tombstone').waitFor();
    assert.equal(await message(ana.page, 'oops, wrong room').count(), 0);
    await act(cy.page, 'welcome to the plaza', 'React 👍');
    await chip(ana.page, 'welcome to the plaza', '👍', 1).waitFor();
    await act(ana.page, 'welcome to the plaza', 'React 👍');
    await chip(cy.page, 'welcome to the plaza', '👍', 2).waitFor();
    await act(ana.page, 'lunch at one', 'React 🎉');
    await chip(cy.page, 'lunch at one', '🎉', 1).waitFor();
    await look(ana.page, '1-plaza-ana');

    // The DM: a reply and a reaction.
    await row(cy.page, 'ana').locator('a').click();
    await cy.page.getByLabel('Message ana').waitFor();
    await row(ana.page, 'cyrus').locator('a').click();
    await say(ana.page, 'cyrus', 'sure, what is up?');
    await message(cy.page, 'sure, what is up?').waitFor();
    await act(ana.page, 'psst, got a minute?', 'React ❤️');
    await chip(cy.page, 'psst, got a minute?', '❤️', 1).waitFor();
    // Cyrus goes back to the plaza; the DM is read up to here.
    await row(cy.page, 'plaza').locator('a').click();
    await cy.page.getByLabel('Message #plaza').waitFor();

    // 6. The private room: Bob in the browser and in the terminal sees Ana typing, then her changes.
    await row(bob.page, 'secret').locator('a').click();
    await bob.page.getByLabel('Message #secret').waitFor();
    bobTerm.keys('C-n');
    await bobTerm.waitFor((s) => header(s).startsWith(' #secret'));
    await row(ana.page, 'secret').locator('a').click();
    const anaBox = ana.page.getByLabel('Message #secret');
    await anaBox.pressSequentially('the plan is');
    await bob.page.locator('.typing-line', { hasText: 'ana is typing…' }).waitFor();
    await bobTerm.waitFor('ana is typing…');
    await look(bob.page, '2-typing-bob');
    await anaBox.press('Enter');
    await ana.page.locator('.row-msg.own.state-sent', { hasText: 'the plan is' }).waitFor();
    await edit(ana.page, 'the plan is', 'the plan is ready');
    await message(bob.page, 'the plan is ready').locator('.edited').waitFor();
    await bobTerm.waitFor(/ana: the plan is ready \(edited \d\d:\d\d\)/);
    await act(bob.page, 'the plan is ready', 'React 👍');
    await chip(ana.page, 'the plan is ready', '👍', 1).waitFor();
    await bobTerm.waitFor(/ana: the plan is ready \(edited \d\d:\d\d\)  👍 1/);
    await say(ana.page, '#secret', 'burn after reading');
    await bobTerm.waitFor('ana: burn after reading');
    await remove(ana.page, 'burn after reading');
    await bob.page.locator('.tombstone').waitFor();
    await bobTerm.waitFor('ana: message deleted');
    assert.doesNotMatch(bobTerm.screen(), /burn after reading/);

    // 7. Unread across Bob's two devices: reading in the terminal clears the browser's badge...
    await row(bob.page, 'general').locator('a').click();
    await bob.page.getByLabel('Message #general').waitFor();
    bobTerm.keys('C-n');
    await bobTerm.waitFor((s) => header(s).startsWith(' #general'));
    await say(ana.page, '#secret', 'bob, read this');
    await row(bob.page, 'secret').locator('.unread-badge', { hasText: /^1$/ }).waitFor();
    await bobTerm.waitFor((s) => /#secret 1\b/.test(header(s)));
    await look(bob.page, '3-unread-bob');
    bobTerm.keys('C-n');
    await bobTerm.waitFor((s) => header(s).startsWith(' #secret') && s.includes('ana: bob, read this'));
    await row(bob.page, 'secret').locator('.unread-badge').waitFor({ state: 'detached' });
    // ...and reading in the browser clears the terminal's.
    bobTerm.keys('C-n');
    await bobTerm.waitFor((s) => header(s).startsWith(' #general'));
    await say(ana.page, '#secret', 'and this too');
    await bobTerm.waitFor((s) => /#secret 1\b/.test(header(s)));
    await row(bob.page, 'secret').locator('.unread-badge', { hasText: /^1$/ }).waitFor();
    await row(bob.page, 'secret').locator('a').click();
    await message(bob.page, 'and this too').waitFor();
    await bobTerm.waitFor((s) => !header(s).includes('#secret'));

    // 8. The terminal shows the private room as the browser does.
    bobTerm.keys('C-n');
    const termScreen = await bobTerm.waitFor((s) => header(s).startsWith(' #secret') && s.includes('ana: and this too'));
    assert.deepEqual(terminalMessages(termScreen), asTerminal(await timeline(bob.page), 'bob'), `the terminal:\n${termScreen}`);

    // The terminal is closed; Ana changes old messages meanwhile; opened again, it shows them as the browser does.
    bobTerm.kill();
    await edit(ana.page, 'and this too', 'and this, too');
    await act(ana.page, 'bob, read this', 'React 🎉');
    await message(bob.page, 'and this, too').locator('.edited').waitFor();
    await chip(bob.page, 'bob, read this', '🎉', 1).waitFor();
    const bobTermAgain = terminal(bobUser);
    await bobTermAgain.waitFor('● online');
    if (!header(bobTermAgain.screen()).startsWith(' #secret')) bobTermAgain.keys('C-n');
    const againScreen = await bobTermAgain.waitFor((s) => header(s).startsWith(' #secret') && /ana: and this, too \(edited/.test(s));
    assert.deepEqual(terminalMessages(againScreen), asTerminal(await timeline(bob.page), 'bob'), `the terminal, opened again:\n${againScreen}`);
    bobTermAgain.kill();

    // 9. One last DM message, unread by Cyrus; then his second device comes back.
    await row(ana.page, 'cyrus').locator('a').click();
    await say(ana.page, 'cyrus', 'one more thing');
    await row(cy.page, 'ana').locator('.unread-badge', { hasText: /^1$/ }).waitFor();
    const expectedList = await roomList(cy.page);
    assert.deepEqual(expectedList, ['Rooms: plaza', 'Rooms: general', 'Direct messages: ana 1']);
    cut = false;
    await away.context.setOffline(false);
    await away.page.locator('.conn[data-status="online"]').waitFor();
    await waitToShow(away.page, ROOM_LIST, expectedList, 'the room list after coming back');
    await look(away.page, '4-back-online-cyrus');

    // Every room, as the device that stayed online shows it (the DM last: opening it reads it).
    for (const [name, label] of [['general', '#general'], ['plaza', '#plaza'], ['ana', 'ana']] as const) {
      await row(cy.page, name).locator('a').click();
      await cy.page.getByLabel(`Message ${label}`).waitFor();
      if (name === 'ana') await message(cy.page, 'one more thing').waitFor();
      const expected = await timeline(cy.page);
      await row(away.page, name).locator('a').click();
      await away.page.getByLabel(`Message ${label}`).waitFor();
      await waitToShow(away.page, TIMELINE, expected, `#${name} on the device that was away`);
    }
    await look(cy.page, '5-dm-cyrus-online');
    await look(away.page, '5-dm-cyrus-was-away');

    // 10. The DM was opened at "new messages" with all of it on screen: that is its newest, so no
    // "jump to latest" button, and what arrives next is read. (The away device leaves the DM, so
    // that its reading cannot clear Cyrus's badge for him.)
    await row(away.page, 'general').locator('a').click();
    await away.page.getByLabel('Message #general').waitFor();
    check(await cy.page.locator('.jump-btn').count(), 0, 'a "jump to latest" button in a DM opened at "new messages" with all of it on screen');
    await say(ana.page, 'cyrus', 'still there?');
    await message(cy.page, 'still there?').waitFor();
    await look(cy.page, '6-dm-still-there-cyrus');
    const read = await row(cy.page, 'ana').locator('.unread-badge').waitFor({ state: 'detached', timeout: 10_000 }).then(() => true, () => false);
    check(read, true, 'a message arriving in the open DM, on screen, was read');

    // 11. A reload, the freshest client there is, shows what the live page showed.
    await row(ana.page, 'plaza').locator('a').click();
    await message(ana.page, 'lunch at one').waitFor();
    const live = await timeline(ana.page);
    await ana.page.reload();
    await waitForChat(ana.page);
    await message(ana.page, 'lunch at one').waitFor();
    check(await timeline(ana.page), live, "Ana's plaza after a reload");

    for (const p of [ana, bob, cy, away]) assert.deepEqual(p.errors, []);
    if (problems.length > 0) assert.fail(`${problems.length} step(s) of the trial went wrong:\n\n${problems.join('\n\n')}`);
  });
});
