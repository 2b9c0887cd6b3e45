import { startTestServer, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, ensureBuilt, launch, openPage, register, setScheme, shot, signIn } from './harness.js';

/*
 * The profile dialog in a real Chromium against a real server: "Your sessions" (list, this device,
 * revoking another device, which is signed out live) and the password form (confirmation, a new
 * password equal to the current one, never success and errors at once).
 */

const skip = browserSkipReason();
const PASSWORD = 'correct horse battery';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

describe('profile dialog in Chromium', { skip: skip ?? false }, () => {
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

  const newPage = (kind: 'desktop' | 'phone', userAgent?: string) => openPage(browser, kind, userAgent ? { userAgent } : {});

  /** A token sign-in from outside the browser, as another device would make it. */
  async function signInElsewhere(username: string, userAgent: string): Promise<string> {
    const res = await fetch(`${server.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': userAgent },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { token: string }).token;
  }

  const meStatus = async (token: string) => (await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status;

  async function openProfile(page: Page, username: string) {
    await page.getByRole('button', { name: `Profile and settings for ${username}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Profile & settings' });
    await dialog.waitFor();
    return dialog;
  }

  test('your sessions: this device, the others with their last use, and revoking one signs it out live', async () => {
    const a = await newPage('desktop');
    await register(a.page, server.url, 'pat');
    const phone = await newPage('phone', ANDROID);
    await signIn(phone.page, server.url, 'pat');
    const laptop = await signInElsewhere('pat', FIREFOX);
    const cli = await signInElsewhere('pat', 'chatter-cli/0.1.0');

    const dialog = await openProfile(a.page, 'pat');
    const section = dialog.getByRole('region', { name: 'Your sessions' });
    const rows = section.getByRole('listitem');
    await rows.nth(3).waitFor();
    assert.equal(await rows.count(), 4);
    const mine = section.getByRole('listitem', { name: 'Chrome on Linux' });
    await mine.getByText('This device').waitFor();
    assert.equal(await mine.getByRole('button').count(), 0, 'no Revoke button for this device');
    for (const device of ['Chrome on Android', 'Firefox on Linux', 'chatter CLI']) {
      const row = section.getByRole('listitem', { name: device });
      await row.getByText('Last seen just now').waitFor();
      await row.getByRole('button', { name: /^Revoke / }).waitFor();
    }
    await section.scrollIntoViewIfNeeded();
    await shot(a.page, 'profile-sessions-desktop-light');
    await setScheme(a.page, 'dark');
    await shot(a.page, 'profile-sessions-desktop-dark');
    await setScheme(a.page, 'light');

    // Revoking the laptop ends its token.
    await section.getByRole('listitem', { name: 'Firefox on Linux' }).getByRole('button', { name: /^Revoke / }).click();
    await section.getByRole('listitem', { name: 'Firefox on Linux' }).waitFor({ state: 'detached' });
    assert.equal(await meStatus(laptop), 401);
    assert.equal(await meStatus(cli), 200);

    // Revoking the phone signs it out while it is open: its socket closes and it shows sign-in.
    await section.getByRole('listitem', { name: 'Chrome on Android' }).getByRole('button', { name: /^Revoke / }).click();
    await section.getByRole('listitem', { name: 'Chrome on Android' }).waitFor({ state: 'detached' });
    await phone.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    assert.equal(await rows.count(), 2);

    assert.deepEqual(a.errors, []);
    assert.deepEqual(phone.errors, []);
    await phone.context.close();
    await a.context.close();
  });

  test('the password form: asks for confirmation, refuses the current password, never shows success and errors together', async () => {
    const a = await newPage('desktop');
    await register(a.page, server.url, 'quinn');
    const cli = await signInElsewhere('quinn', 'chatter-cli/0.1.0');
    const dialog = await openProfile(a.page, 'quinn');
    const form = dialog.getByRole('region', { name: 'Change password' });
    const current = form.getByLabel('Current password');
    const next = form.getByLabel('New password');
    const confirm = form.getByLabel('Confirm password');
    const submit = form.getByRole('button', { name: 'Change password' });
    const success = form.getByRole('status');

    // The confirmation must match.
    await current.fill(PASSWORD);
    await next.fill('a brand new secret');
    await confirm.fill('a brand new secreT');
    await submit.click();
    await form.getByText('The two new passwords do not match.').waitFor();
    assert.equal(await confirm.getAttribute('aria-invalid'), 'true');

    // The new password must differ from the current one (the server says so too: see accounts.test.ts).
    await next.fill(PASSWORD);
    await confirm.fill(PASSWORD);
    await submit.click();
    await form.getByText('Choose a password different from your current one.').waitFor();

    // A wrong current password is the server's answer, under its field.
    await current.fill('not my password');
    await next.fill('a brand new secret');
    await confirm.fill('a brand new secret');
    await submit.click();
    await form.getByText('The current password is not correct.').waitFor();

    // Success: the other sessions are signed out and the list shows this device alone.
    await current.fill(PASSWORD);
    await next.fill('a brand new secret');
    await confirm.fill('a brand new secret');
    await submit.click();
    await success.filter({ hasText: 'Password changed.' }).waitFor();
    assert.equal(await form.locator('.field-error').count(), 0);
    assert.equal(await meStatus(cli), 401);
    const sessions = dialog.getByRole('region', { name: 'Your sessions' });
    await sessions.getByText('You are signed in on this device only.').waitFor();
    assert.equal(await sessions.getByRole('listitem').count(), 1);

    // Submitting again with empty fields shows the errors, and the old success is gone.
    await submit.click();
    await form.getByText('Enter your current password.').waitFor();
    assert.equal(await success.count(), 0, 'no success message next to field errors');
    await shot(a.page, 'profile-password-errors-desktop-light');

    assert.deepEqual(a.errors, []);
    await a.context.close();
  });

  test('phone width, light and dark', async () => {
    const p = await newPage('phone', ANDROID);
    await register(p.page, server.url, 'rory');
    await signInElsewhere('rory', FIREFOX);
    await p.page.getByRole('button', { name: 'Open menu' }).tap();
    await p.page.getByRole('button', { name: 'Profile and settings for rory' }).tap();
    const dialog = p.page.getByRole('dialog', { name: 'Profile & settings' });
    const section = dialog.getByRole('region', { name: 'Your sessions' });
    await section.getByRole('listitem', { name: 'Firefox on Linux' }).waitFor();
    await section.scrollIntoViewIfNeeded();
    // Nothing sticks out sideways at 390 px.
    const overflow = await dialog.evaluate((d) => d.scrollWidth - d.clientWidth);
    assert.ok(overflow <= 0, `the dialog scrolls sideways by ${overflow} px`);
    await shot(p.page, 'profile-sessions-phone-light');
    await setScheme(p.page, 'dark');
    await shot(p.page, 'profile-sessions-phone-dark');
    assert.deepEqual(p.errors, []);
    await p.context.close();
  });
});
