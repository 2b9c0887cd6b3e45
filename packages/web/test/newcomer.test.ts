import { startTestServer, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, ensureBuilt, launch, openPage, register, sendMessage, shot, signIn, waitForChat } from './harness.js';

/*
 * A newcomer's first hour: ready to type on arrival, a draft that survives a reload, presence that
 * says "unknown" rather than showing a stale list, a phone composer one line tall, and one wording
 * for messages on their way.
 */

const skip = browserSkipReason();

describe('first hour in the web app', { skip: skip ?? false }, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    await ensureBuilt();
    server = await startTestServer();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const newPage = (kind: 'desktop' | 'phone' = 'desktop') => openPage(browser, kind);

  const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id);
  const composer = (page: Page) => page.getByLabel('Message #general');

  test('the composer has focus after signing in, and the draft survives a reload until it is sent', async () => {
    await server.register('nina');
    const { context, page, errors } = await newPage();
    await signIn(page, server.url, 'nina');
    await page.waitForFunction(() => document.activeElement?.id === 'composer-input');

    // Typing straight away, no click needed; then the tab is reloaded mid-sentence.
    await page.keyboard.type('half a thought');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('and a second line');
    await page.reload();
    await waitForChat(page);
    assert.equal(await composer(page).inputValue(), 'half a thought\nand a second line');
    assert.equal(await focusedId(page), 'composer-input');

    // Sent, it is gone: from the box and from storage, so the next reload starts empty.
    await composer(page).press('Enter');
    await page.locator('.row-msg.own.state-sent', { hasText: 'and a second line' }).waitFor();
    assert.equal(await composer(page).inputValue(), '');
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('chatter.draft.'))), []);
    await page.reload();
    await waitForChat(page);
    assert.equal(await composer(page).inputValue(), '');

    // A draft left behind is removed on logout: the next person on this browser must not see it.
    await composer(page).fill('private words');
    await page.waitForFunction(() => Object.keys(localStorage).some((k) => k.startsWith('chatter.draft.')));
    await page.getByRole('button', { name: 'Profile and settings for nina' }).click();
    await page.getByRole('dialog', { name: 'Profile & settings' }).getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('tab', { name: 'Sign in' }).waitFor();
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('chatter.draft.'))), []);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a text the server would refuse (a control character pasted from a terminal) is explained, not sent', async () => {
    await server.register('ctl');
    const { context, page, errors } = await newPage();
    await signIn(page, server.url, 'ctl');
    await composer(page).fill('beep \u0007 here');
    await page.locator('.composer-help .over', { hasText: 'control characters' }).waitFor();
    assert.equal(await composer(page).getAttribute('aria-invalid'), 'true');
    await composer(page).press('Enter');
    // Nothing left: the text stays for the user to fix. Fixed, it goes, and it is the first message of theirs.
    assert.equal(await composer(page).inputValue(), 'beep \u0007 here');
    await composer(page).fill('beep here');
    await composer(page).press('Enter');
    await page.locator('.row-msg.own.state-sent', { hasText: 'beep here' }).waitFor();
    assert.equal(await page.locator('.row-msg.own').count(), 1);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('offline, presence is unknown rather than a stale list; pending messages read the same everywhere', async () => {
    const a = await newPage();
    await register(a.page, server.url, 'otto');
    const b = await newPage();
    await register(b.page, server.url, 'pia');
    await a.page.locator('.user-list').getByText('pia').waitFor();
    await a.page.locator('.online-pill').filter({ hasText: '2' }).waitFor();

    await a.context.setOffline(true);
    await a.page.locator('.conn[data-status="offline"]').waitFor();
    await a.page.locator('.presence-unknown').filter({ hasText: 'Offline: who is online is unknown until you are back.' }).waitFor();
    assert.equal(await a.page.locator('.user-list').count(), 0, 'no stale list of people');
    assert.equal(await a.page.locator('.online-pill').count(), 0, 'no stale count');

    // A message sent meanwhile waits; under the bubble and in the composer's note it is said the same way.
    await sendMessage(a.page, 'written on the train');
    await a.page.locator('.row-msg.own', { hasText: 'written on the train' }).waitFor();
    const notes = a.page.locator('.delivery-status[data-state="pending"]');
    await notes.nth(1).waitFor();
    const texts = (await notes.allTextContents()).map((t) => t.trim());
    assert.deepEqual(texts, ['Waiting for connection…', 'Waiting for connection… (1 message)']);
    assert.equal(await a.page.getByText(/will be sent|sends when/).count(), 0, 'no second wording');
    await shot(a.page, 'offline-presence-desktop-light');

    await a.context.setOffline(false);
    await a.page.locator('.conn[data-status="online"]').waitFor({ timeout: 20_000 }).catch(async () => {
      await a.page.getByRole('button', { name: 'Retry now' }).click();
      await a.page.locator('.conn[data-status="online"]').waitFor();
    });
    await a.page.locator('.user-list').getByText('pia').waitFor();
    await b.page.locator('.bubble-text', { hasText: 'written on the train' }).waitFor();
    assert.equal(await a.page.locator('.presence-unknown').count(), 0);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test('phone: the composer starts one line tall, online or offline, grows with the text and shrinks back', async () => {
    const p = await newPage('phone');
    await register(p.page, server.url, 'quinn');
    const box = composer(p.page);
    const height = () => box.evaluate((el) => el.getBoundingClientRect().height);
    const { oneLine, line } = await box.evaluate((el) => {
      const s = getComputedStyle(el);
      const line = parseFloat(s.lineHeight);
      return { line, oneLine: line + parseFloat(s.paddingTop) + parseFloat(s.paddingBottom) };
    });
    const atMostOneLine = async (when: string) => {
      const h = await height();
      assert.ok(h <= Math.max(oneLine, 40) + 1, `${when}: ${h}px for one line of ${oneLine}px`);
    };
    await atMostOneLine('online');

    await p.context.setOffline(true);
    await p.page.locator('.conn[data-status="offline"]').waitFor();
    await atMostOneLine('offline');
    await shot(p.page, 'composer-offline-phone-light');

    await box.fill('one\ntwo\nthree');
    assert.ok((await height()) >= oneLine + 2 * line - 1, 'grows to three lines');
    await box.press('Enter');
    await p.page.locator('.row-msg.own', { hasText: 'three' }).waitFor();
    await atMostOneLine('after sending');
    await p.context.setOffline(false);
    assert.deepEqual(p.errors, []);
    await p.context.close();
  });
});
