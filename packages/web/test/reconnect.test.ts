import { spawnServer, type SpawnedServer } from '@chatter/server/testing';
import type { HistoryResponse } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, contextOptions, ensureBuilt, launch, register, reportCspViolations, sendMessage, shot, waitForChat, watchErrors } from './harness.js';

/*
 * The server is a real child process, stopped and started again while a person is typing: what
 * they send meanwhile waits in the outbox, shows as pending, and is delivered exactly once.
 */

const skip = browserSkipReason();

describe('web app across a server restart', { skip: skip ?? false }, () => {
  let proc: SpawnedServer;
  let browser: Browser;

  before(async () => {
    await ensureBuilt();
    proc = await spawnServer();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await proc?.dispose();
  });

  const countBubbles = (page: Page, text: string) => page.locator('.bubble-text', { hasText: text }).count();

  /**
   * Wait until connected, pressing "Retry now" instead of sitting out the backoff (which grows to
   * tens of seconds while the server is down). A press during an attempt does nothing, so repeat.
   */
  async function reconnectNow(page: Page) {
    const online = page.locator('.conn[data-status="online"]');
    for (let i = 0; i < 60 && !(await online.isVisible()); i++) {
      const retry = page.getByRole('button', { name: 'Retry now' });
      if (await retry.isVisible()) await retry.click({ timeout: 1000 }).catch(() => {});
      await online.waitFor({ timeout: 500 }).catch(() => {});
    }
    await waitForChat(page);
  }

  test('a message typed while the server is down is delivered exactly once after it restarts', async () => {
    const observer = await proc.register('observer');
    const ada = await browser.newContext(contextOptions('desktop'));
    await reportCspViolations(ada);
    const a = await ada.newPage();
    // The browser logs failed WebSocket attempts while the server is down; those are expected.
    const aErrors = watchErrors(a, [/WebSocket connection to .* failed/]);
    await register(a, proc.url, 'ada');
    const benCtx = await browser.newContext(contextOptions('phone'));
    await reportCspViolations(benCtx);
    const b = await benCtx.newPage();
    const bErrors = watchErrors(b, [/WebSocket connection to .* failed/]);
    await register(b, proc.url, 'ben');

    await sendMessage(a, 'before the restart');
    await b.locator('.bubble-text', { hasText: 'before the restart' }).waitFor();

    await proc.stop();
    await a.locator('.conn[data-status="reconnecting"]').waitFor();
    await b.locator('.conn[data-status="reconnecting"]').waitFor();

    // Typing while the server is away: the composer still takes it, and it shows as pending.
    const text = `typed while the server was down ${Date.now()}`;
    await sendMessage(a, text);
    const pending = a.locator('.row-msg.own.state-pending', { hasText: text });
    await pending.waitFor();
    await pending.getByText('Waiting for connection…').waitFor();
    const note = a.locator('.composer-note').filter({ hasText: /^Not connected ·/ });
    await note.locator('.delivery-status').filter({ hasText: 'Waiting for connection… (1 message)' }).waitFor();
    await a.getByText(/Reconnecting in \d+s/).waitFor();
    await shot(a, 'reconnecting-pending-desktop-light');
    await shot(b, 'reconnecting-phone-light');

    await proc.restart();
    await Promise.all([reconnectNow(a), reconnectNow(b)]);
    await a.locator('.row-msg.own.state-sent', { hasText: text }).waitFor({ timeout: 20_000 });
    await b.locator('.bubble-text', { hasText: text }).waitFor({ timeout: 20_000 });

    // Exactly once: a marker sent after it from the same outbox comes after any resend of it, so
    // once the marker is in on both sides, a duplicate would be too.
    await sendMessage(a, 'marker after the restart');
    await a.locator('.row-msg.own.state-sent', { hasText: 'marker after the restart' }).waitFor();
    await b.locator('.bubble-text', { hasText: 'marker after the restart' }).waitFor();
    assert.equal(await countBubbles(a, text), 1);
    assert.equal(await countBubbles(b, text), 1);
    const res = await fetch(`${proc.url}/api/rooms/general/messages?limit=100`, { headers: { authorization: `Bearer ${observer.token}` } });
    const page = (await res.json()) as HistoryResponse;
    assert.equal(page.messages.filter((m) => m.text === text).length, 1, 'stored once');
    assert.equal(page.messages.filter((m) => m.text === 'before the restart').length, 1);
    assert.equal(await a.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('chatter.outbox')).length), 0, 'outbox emptied');

    // And after a reload, still once, and nothing left pending.
    await a.reload();
    await waitForChat(a);
    await a.locator('.bubble-text', { hasText: text }).waitFor();
    assert.equal(await countBubbles(a, text), 1);
    assert.equal(await a.locator('.row-msg.state-pending, .row-msg.state-sending').count(), 0);

    assert.deepEqual(aErrors, []);
    assert.deepEqual(bErrors, []);
    await ada.close();
    await benCtx.close();
  });

  test('pending messages survive a reload while the server is down, then go out once', async () => {
    const ctx = await browser.newContext(contextOptions('desktop'));
    await reportCspViolations(ctx);
    const page = await ctx.newPage();
    const errors = watchErrors(page, [/WebSocket connection to .* failed/]);
    await register(page, proc.url, 'cleo');

    await proc.stop();
    await page.locator('.conn[data-status="reconnecting"]').waitFor();
    const text = `queued then reloaded ${Date.now()}`;
    await sendMessage(page, text);
    await page.locator('.row-msg.state-pending', { hasText: text }).waitFor();

    // Close the tab while the server is down: the outbox lives in localStorage, so a new tab
    // (once the server is back) sends the message, once.
    await page.close();
    await proc.restart();
    const again = await ctx.newPage();
    errors.push(...watchErrors(again));
    await again.goto(proc.url);
    await waitForChat(again);
    await again.locator('.row-msg.own.state-sent', { hasText: text }).waitFor({ timeout: 20_000 });
    await sendMessage(again, 'marker after the reload');
    await again.locator('.row-msg.own.state-sent', { hasText: 'marker after the reload' }).waitFor();
    assert.equal(await countBubbles(again, text), 1);

    // The device itself going offline is shown as Offline, not as a server problem.
    await ctx.setOffline(true);
    await again.locator('.conn[data-status="offline"]').waitFor();
    await again.getByText(/^Offline · what you send now goes out/).waitFor();
    await shot(again, 'offline-desktop-light');
    await ctx.setOffline(false);
    await reconnectNow(again);

    assert.deepEqual(errors, []);
    await ctx.close();
  });
});
