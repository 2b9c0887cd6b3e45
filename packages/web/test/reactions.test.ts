import { startTestServer, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { browserSkipReason, ensureBuilt, launch, openAs, repoRoot, say, SdkPeople, shootBothSchemes, usersInRoom, waitForChat } from './harness.js';

/*
 * Reactions as a Slack or Discord user expects them, in a real Chromium against a real server: the
 * emoji picker (search, recently used, keyboard, phone bottom sheet) and who reacted (tooltip on
 * hover, long press on a phone). Screenshots in `reactui-shots/` beside the repository, or
 * $REACTIONS_SHOTS.
 */

const skip = browserSkipReason();
const SHOTS = process.env.REACTIONS_SHOTS ?? `${repoRoot}/artifacts/screenshots/reactions`;

const looks = (page: Page, name: string): Promise<void> => shootBothSchemes(page, SHOTS, name);

describe('reactions in the web app', { skip: skip ?? false }, () => {
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

  const message = (page: Page, text: string) => page.locator('.row-msg').filter({ has: page.locator('.bubble-text', { hasText: text }) });
  const picker = (page: Page) => page.getByRole('dialog', { name: 'Add a reaction' });
  const options = (page: Page) => picker(page).getByRole('option');
  const focusedLabel = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.tagName ?? null);

  /** A long press as a finger makes it: touch down, held until `until` shows, then up. */
  async function longPress(page: Page, target: Locator, until: Locator): Promise<void> {
    const box = await target.boundingBox();
    assert.ok(box, 'the target is on the screen');
    const cdp = await page.context().newCDPSession(page);
    const point = { x: box.x + Math.min(box.width / 2, 30), y: box.y + box.height / 2 };
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point] });
    await until.waitFor();
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await cdp.detach();
  }

  test('desktop: pick by search, live for the other person, recently used first after a reload, who reacted on hover', async () => {
    const { users: [, bo, ...others] } = await usersInRoom(server, ['ana', 'bob', 'cyd', 'dee', 'eve']);
    const boc = await people.connect(server, bo);
    const planId = await say(boc, 'the plan is ready');

    const a = await openAs(browser, server, 'ana');
    const b = await openAs(browser, server, 'bob');

    // The hover toolbar's "add reaction" opens the picker, with the search focused.
    const plan = message(a.page, 'the plan is ready');
    await plan.hover();
    const add = plan.getByRole('toolbar', { name: 'Message actions' }).getByRole('button', { name: 'Add reaction…' });
    await add.click();
    await picker(a.page).waitFor();
    assert.equal(await focusedLabel(a.page), 'Search emoji');
    // The data comes with the picker: categories, no "recently used" for a new user.
    await options(a.page).first().waitFor();
    assert.equal(await picker(a.page).getByRole('group', { name: 'Recently used' }).count(), 0);
    assert.ok((await options(a.page).count()) > 1000, 'every emoji is offered');

    // Search by shortcode and by name; every option passes the protocol's check.
    await a.page.keyboard.type('tada');
    assert.equal(await options(a.page).first().innerText(), '🎉');
    await a.page.getByLabel('Search emoji').fill('red heart');
    assert.equal(await options(a.page).first().innerText(), '❤️');
    await a.page.getByLabel('Search emoji').fill('zzzqqq');
    await picker(a.page).getByText('No emoji match').waitFor();
    await a.page.getByLabel('Search emoji').fill(':thumbs');
    await looks(a.page, 'picker-desktop');
    assert.equal(await options(a.page).first().innerText(), '👍');

    await a.page.getByLabel('Search emoji').fill('tada');
    await options(a.page).first().click();
    await picker(a.page).waitFor({ state: 'detached' });
    // Live for Bo, in his browser.
    const boPlan = message(b.page, 'the plan is ready');
    await boPlan.locator('.reaction').filter({ hasText: '🎉 1' }).waitFor();
    await plan.locator('.reaction.mine').filter({ hasText: '🎉 1' }).waitFor();

    // Bo adds his by clicking the chip: one click toggles his own reaction.
    await boPlan.locator('.reaction').filter({ hasText: '🎉 1' }).click();
    await plan.locator('.reaction').filter({ hasText: '🎉 2' }).waitFor();
    await boPlan.locator('.reaction.mine').filter({ hasText: '🎉 2' }).waitFor();

    // Who reacted: "You and bob", then with three more, "You, bob and 3 others".
    const chip = plan.locator('.reaction').filter({ hasText: '🎉' }).first();
    await chip.hover();
    const tip = chip.getByRole('tooltip');
    await tip.waitFor();
    assert.equal(await tip.innerText(), 'You and bob reacted with 🎉');
    const boTip = boPlan.locator('.reaction').filter({ hasText: '🎉' }).first().getByRole('tooltip');
    assert.equal(await boTip.textContent(), 'You and ana reacted with 🎉');
    for (const u of others) {
      const c = await people.connect(server, u);
      c.react('general', planId, '🎉', true);
    }
    await plan.locator('.reaction').filter({ hasText: '🎉 5' }).waitFor();
    await a.page.mouse.move(0, 0);
    await chip.hover();
    await tip.waitFor();
    assert.equal(await tip.innerText(), 'You, bob and 3 others reacted with 🎉');
    assert.equal(await chip.getAttribute('aria-describedby'), await tip.getAttribute('id'));
    await looks(a.page, 'tooltip-desktop');

    // Recently used persists per user: after a reload it comes first.
    await a.page.reload();
    await waitForChat(a.page);
    await plan.hover();
    await add.click();
    await options(a.page).first().waitFor();
    const recent = picker(a.page).getByRole('group', { name: 'Recently used' });
    assert.equal(await recent.getByRole('option').first().innerText(), '🎉');
    assert.match((await recent.getByRole('option').first().getAttribute('aria-label')) ?? '', /\(reacted\)/);
    // A click outside closes it.
    await a.page.mouse.click(5, 400);
    await picker(a.page).waitFor({ state: 'detached' });

    // Picking what I already reacted with takes it back, as the chip does.
    await plan.hover();
    await add.click();
    await recent.getByRole('option').first().click();
    await boPlan.locator('.reaction').filter({ hasText: '🎉 4' }).waitFor();
    assert.equal(await plan.locator('.reaction.mine').count(), 0);

    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test('keyboard: type to search, arrows, Enter reacts, Escape closes; focus goes back to the button', async () => {
    const { users: [, gus] } = await usersInRoom(server, ['fay', 'gus']);
    const gc = await people.connect(server, gus);
    const welcome = await say(gc, 'keyboard people welcome');
    gc.react('general', welcome, '👋', true);

    const f = await openAs(browser, server, 'fay');
    const msg = message(f.page, 'keyboard people welcome');
    await msg.waitFor();
    // The "add reaction" after a message's chips (keyboard.test.ts reaches it, and the actions, by Tab from the message).
    const add = msg.locator('.reactions').getByRole('button', { name: 'Add reaction…' });
    await add.focus();
    await f.page.keyboard.press('Enter');
    await picker(f.page).waitFor();
    assert.equal(await focusedLabel(f.page), 'Search emoji');
    await f.page.keyboard.type('cat');
    await options(f.page).nth(2).waitFor();
    const expected = await options(f.page).nth(1 + 8).innerText(); // one right, one row down
    await f.page.keyboard.press('ArrowRight');
    await f.page.keyboard.press('ArrowDown');
    assert.equal(await picker(f.page).locator('[aria-selected="true"]').innerText(), expected);
    assert.equal(await f.page.getByLabel('Search emoji').getAttribute('aria-activedescendant'), await picker(f.page).locator('[aria-selected="true"]').getAttribute('id'));
    await f.page.keyboard.press('Enter');
    await picker(f.page).waitFor({ state: 'detached' });
    await msg.locator('.reaction.mine').filter({ hasText: `${expected} 1` }).waitFor();
    assert.equal(await msg.locator('.reaction:not(.add)').count(), 2);
    assert.equal(await focusedLabel(f.page), 'Add reaction…');

    // Escape closes without reacting, and focus is back where it was.
    await f.page.keyboard.press('Enter');
    await picker(f.page).waitFor();
    await f.page.keyboard.type('dog');
    await f.page.keyboard.press('Escape');
    await picker(f.page).waitFor({ state: 'detached' });
    assert.equal(await focusedLabel(f.page), 'Add reaction…');
    // Nothing else was added (a later marker: Gus's next reaction arrives after any of ours would).
    await say(gc, 'marker');
    await message(f.page, 'marker').waitFor();
    assert.equal(await msg.locator('.reaction:not(.add)').count(), 2);

    assert.deepEqual(f.errors, []);
    await f.context.close();
  });

  test('phone: long press opens the actions, the picker is a bottom sheet; long press on a chip shows who reacted', async () => {
    const { users: [, ida] } = await usersInRoom(server, ['hal', 'ida']);
    const ic = await people.connect(server, ida);
    const id = await say(ic, 'reacting from a phone');
    ic.react('general', id, '👍', true);

    const p = await openAs(browser, server, 'hal', 'phone');
    const msg = message(p.page, 'reacting from a phone');
    await msg.locator('.reaction').filter({ hasText: '👍 1' }).waitFor();

    // A long press on the message shows its actions; "add reaction" opens the sheet.
    const toolbar = msg.getByRole('toolbar', { name: 'Message actions' });
    await longPress(p.page, msg.locator('.bubble'), toolbar);
    await toolbar.getByRole('button', { name: 'Add reaction…' }).tap();
    await options(p.page).first().waitFor();
    const box = await picker(p.page).boundingBox();
    assert.ok(box, 'the sheet is on the screen');
    assert.equal(Math.round(box.width), 390, 'full width');
    assert.equal(Math.round(box.y + box.height), 844, 'at the bottom');
    // Focus is in the sheet, not in the search: no on-screen keyboard thrown over it unasked.
    assert.equal(await focusedLabel(p.page), 'Add a reaction');
    await looks(p.page, 'picker-phone');
    await p.page.getByLabel('Search emoji').fill('rocket');
    await options(p.page).first().tap();
    await picker(p.page).waitFor({ state: 'detached' });
    await msg.locator('.reaction.mine').filter({ hasText: '🚀 1' }).waitFor();

    // A long press on a chip tells who reacted, and does not toggle it.
    const thumbs = msg.locator('.reaction').filter({ hasText: '👍 1' });
    await longPress(p.page, thumbs, thumbs.getByRole('tooltip'));
    assert.equal(await thumbs.getByRole('tooltip').innerText(), 'ida reacted with 👍');
    await looks(p.page, 'tooltip-phone');
    assert.equal(await msg.locator('.reaction.mine').filter({ hasText: '👍' }).count(), 0, 'the long press did not react');
    // The next touch elsewhere hides it.
    await p.page.touchscreen.tap(200, 120);
    await thumbs.getByRole('tooltip').waitFor({ state: 'hidden' });

    assert.deepEqual(p.errors, []);
    await p.context.close();
  });
});
