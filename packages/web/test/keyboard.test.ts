import { startTestServer, storeMessages, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, ensureBuilt, launch, openAs, say, SdkPeople, setScheme, shot, usersInRoom } from './harness.js';

/*
 * Message actions without a mouse, in a real Chromium against a real server: the message list is
 * one Tab stop (a roving focus, as in Slack and Discord), Up/Down move between messages, a focused
 * message shows its actions, E edits, R reacts, Delete deletes, Escape goes back. The list is
 * virtual, so the focus must survive rows being recycled and rows arriving, and moving past the
 * rendered rows must render the next one. Screenshots: artifacts/screenshots/keyboard-*.png.
 */

const skip = browserSkipReason();

describe('message actions from the keyboard', { skip: skip ?? false }, () => {
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

  /** What has the focus: its role, accessible label (or text), and whether it is in the message list. */
  const focused = (page: Page) =>
    page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      const labelledby = el?.getAttribute('aria-labelledby');
      const label = labelledby
        ? labelledby
            .split(' ')
            .map((id) => document.getElementById(id)?.textContent ?? '')
            .join(' ')
        : (el?.getAttribute('aria-label') ?? el?.textContent ?? '');
      return { role: el?.getAttribute('role') ?? el?.tagName.toLowerCase() ?? null, label: label.trim(), id: el?.id ?? '', inList: !!el?.closest('.message-scroller') };
    });
  const message = (page: Page, text: string) => page.locator('.row-msg').filter({ has: page.locator('.bubble-text', { hasText: text }) });
  const picker = (page: Page) => page.getByRole('dialog', { name: 'Add a reaction' });

  test('reach a message from the composer, react from its actions and the picker, edit and delete it, Escape back', async () => {
    const { users: [kim, lou] } = await usersInRoom(server, ['kim', 'lou']);
    const lc = await people.connect(server, lou);
    await say(lc, 'first from lou');
    await say(lc, 'second from lou');
    const kc = await people.connect(server, kim);
    await say(kc, 'mine to edit');

    const { context, page, errors } = await openAs(browser, server, 'kim');
    await message(page, 'mine to edit').waitFor();
    await page.waitForFunction(() => document.activeElement?.id === 'composer-input');

    // The list is one Tab stop: back from the composer lands on the newest message...
    await page.keyboard.press('Shift+Tab');
    let f = await focused(page);
    assert.equal(f.role, 'article');
    assert.match(f.label, /You.*mine to edit/);
    const mine = message(page, 'mine to edit');
    const bar = mine.getByRole('toolbar', { name: 'Message actions' });
    await bar.waitFor(); // shown on keyboard focus
    // ...and one more Shift+Tab leaves the list (no other message, chip or link on the way).
    await page.keyboard.press('Shift+Tab');
    f = await focused(page);
    assert.equal(f.inList, false, `left the list: ${JSON.stringify(f)}`);
    assert.equal(await page.locator('.message-scroller [tabindex="0"]').count(), 1, 'one Tab stop in the list');
    await page.keyboard.press('Tab');
    assert.match((await focused(page)).label, /mine to edit/, 'Tab comes back to the same message');

    // Up and Down move between messages.
    await page.keyboard.press('ArrowUp');
    assert.match((await focused(page)).label, /lou.*second from lou/);
    await page.keyboard.press('ArrowUp');
    assert.match((await focused(page)).label, /first from lou/);
    await page.keyboard.press('ArrowDown');
    assert.match((await focused(page)).label, /second from lou/);
    const second = message(page, 'second from lou');
    await second.getByRole('toolbar').waitFor();
    await shot(page, 'keyboard-focused-desktop-light');
    await setScheme(page, 'dark');
    await shot(page, 'keyboard-focused-desktop-dark');
    await setScheme(page, 'light');

    // Tab goes into the toolbar (one stop: its first button), arrows along it, Enter reacts.
    await page.keyboard.press('Tab');
    assert.equal((await focused(page)).label, 'React 👍');
    await page.keyboard.press('ArrowRight');
    assert.equal((await focused(page)).label, 'React ❤️');
    await page.keyboard.press('Enter');
    await second.locator('.reaction.mine').filter({ hasText: '❤️ 1' }).waitFor();
    // Escape: back to the message.
    await page.keyboard.press('Escape');
    assert.match((await focused(page)).label, /second from lou/);

    // R opens the picker; it reacts and the focus comes back to the message's actions.
    await page.keyboard.press('r');
    await picker(page).waitFor();
    await page.keyboard.type('tada');
    await picker(page).locator('[aria-selected="true"]', { hasText: '🎉' }).waitFor();
    await page.keyboard.press('Enter');
    await picker(page).waitFor({ state: 'detached' });
    await second.locator('.reaction.mine').filter({ hasText: '🎉 1' }).waitFor();
    assert.equal((await focused(page)).label, 'Add reaction…');
    await page.keyboard.press('Escape');
    assert.match((await focused(page)).label, /second from lou/);
    await page.keyboard.press('ArrowDown');
    assert.match((await focused(page)).label, /mine to edit/);

    // E (or Enter) edits my own message; Enter saves and the focus is back on it.
    await page.keyboard.press('e');
    const box = page.getByRole('textbox', { name: 'Edit message' });
    await box.waitFor();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('edited by keyboard');
    await page.keyboard.press('Enter');
    const edited = message(page, 'edited by keyboard');
    await edited.locator('.edited').waitFor();
    f = await focused(page);
    assert.equal(f.role, 'article');
    assert.match(f.label, /edited by keyboard/);

    // Delete asks first (the focus on "Delete for everyone?"); Enter deletes.
    await page.keyboard.press('Delete');
    assert.equal((await focused(page)).label, 'Delete for everyone?');
    await page.keyboard.press('Enter');
    await page.locator('.row-msg .tombstone').waitFor();
    f = await focused(page);
    assert.equal(f.role, 'article', `the focus stays on the deleted message's row: ${JSON.stringify(f)}`);
    assert.match(f.label, /Message deleted/);
    // Lou's messages take no edit or delete.
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Delete');
    await page.keyboard.press('e');
    assert.match((await focused(page)).label, /second from lou/);
    assert.equal(await page.getByRole('textbox', { name: 'Edit message' }).count(), 0);

    // Escape from a message goes to the composer.
    await page.keyboard.press('Escape');
    assert.equal((await focused(page)).id, 'composer-input');

    // What Lou's client holds: the reactions and the deletion, nothing else (a later marker).
    await say(lc, 'marker');
    const lsecond = (lc.store.room('general')?.timeline ?? []).find((i) => i.kind === 'message' && i.message.text === 'second from lou');
    assert.deepEqual(lsecond?.kind === 'message' && lsecond.message.reactions.map((r) => r.emoji).sort(), ['❤️', '🎉'].sort());
    assert.equal(await page.locator('.row-msg .tombstone').count(), 1);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a long list: Home and End render far rows, the focus survives scrolling away and rows arriving', async () => {
    const poster = await server.register('poster');
    const start = Date.now() - 300 * 60_000;
    await storeMessages(
      server,
      Array.from({ length: 300 }, (_, i) => ({ roomId: 'general', authorId: poster.user.id, clientId: `k-${i}`, text: `backlog ${i}`, createdAt: start + i * 60_000 })),
    );
    // Registered after the backlog: it is read, and the room opens at the bottom.
    await server.register('reader');
    const pc = await people.connect(server, poster);
    const { context, page, errors } = await openAs(browser, server, 'reader');
    await message(page, 'backlog 299').waitFor({ timeout: 5000 }).catch(async (e) => {
      console.log(errors, await page.locator('body').innerText());
      throw e;
    });
    // The newest line is the reader's own "joined" (membership lines are in the focus order too).
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused(page)).label, 'You joined');
    await page.keyboard.press('ArrowUp');
    assert.match((await focused(page)).label, /backlog 299/);

    // Home: the first loaded message, far above the rendered rows: rendered, focused, in view.
    await page.keyboard.press('Home');
    await page.waitForFunction(() => document.activeElement?.getAttribute('role') === 'article' && !/backlog 299/.test(document.activeElement.textContent ?? ''));
    const first = await focused(page);
    const inView = () =>
      page.evaluate(() => {
        const el = document.activeElement!.getBoundingClientRect();
        const box = document.querySelector('.message-scroller')!.getBoundingClientRect();
        return el.bottom > box.top && el.top < box.bottom;
      });
    assert.equal(await inView(), true, `focused row in view: ${first.label}`);
    const firstN = Number(/backlog (\d+)/.exec(first.label)?.[1]);
    await page.keyboard.press('ArrowDown');
    assert.match((await focused(page)).label, new RegExp(`backlog ${firstN + 1}\\b`));

    // Scroll far away (the mouse): the focused row is no longer in the window, yet it keeps the focus.
    const node = await page.evaluateHandle(() => document.activeElement);
    await page.locator('.message-scroller').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await message(page, 'backlog 299').waitFor();
    assert.equal(await node.evaluate((n) => n !== null && n === document.activeElement && n.isConnected), true);
    // It is the row kept out of the window's flow, where it belongs (VirtualList's "kept" row).
    assert.equal(await page.locator('.vlist-row.kept').count(), 1);
    assert.equal(await node.evaluate((n) => !!n && !!(n as Element).closest('.vlist-row.kept')), true);
    // Rows arriving meanwhile change nothing.
    await say(pc, 'arrived while focused');
    await message(page, 'arrived while focused').waitFor();
    assert.equal(await node.evaluate((n) => n === document.activeElement), true);
    // Down goes on from the focused row, which comes back into view.
    await page.keyboard.press('ArrowDown');
    assert.match((await focused(page)).label, new RegExp(`backlog ${firstN + 2}\\b`));
    assert.equal(await inView(), true);
    // End: the newest message.
    await page.keyboard.press('End');
    await page.waitForFunction(() => /arrived while focused/.test(document.activeElement?.textContent ?? ''));
    assert.equal(await inView(), true);

    assert.deepEqual(errors, []);
    await context.close();
  });

  test('phone: a focused message shows its actions in both themes', async () => {
    const { users: [, quin] } = await usersInRoom(server, ['pia', 'quin']);
    const qc = await people.connect(server, quin);
    await say(qc, 'seen on a phone with a keyboard');
    const { context, page, errors } = await openAs(browser, server, 'pia', 'phone');
    await message(page, 'seen on a phone with a keyboard').waitFor();
    await page.locator('.message-scroller [data-row-focus][tabindex="0"]').focus();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowDown');
    const row = message(page, 'seen on a phone with a keyboard');
    await row.getByRole('toolbar').waitFor();
    await shot(page, 'keyboard-focused-phone-light');
    await setScheme(page, 'dark');
    await shot(page, 'keyboard-focused-phone-dark');
    await setScheme(page, 'light');
    assert.deepEqual(errors, []);
    await context.close();
  });
});
