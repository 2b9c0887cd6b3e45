import { startTestServer, storeMessages, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import {
  assertCsp,
  browserSkipReason,
  bubbles,
  ensureBuilt,
  frames,
  launch,
  openPage,
  register,
  sendMessage,
  setScheme,
  shot,
  signIn,
  until,
  waitForChat,
} from './harness.js';

/*
 * The web app in a real Chromium against a real server: accounts, live chat between two browser
 * contexts, presence, session persistence, profile pictures, hostile input, phone layout and
 * keyboard-only use. Screenshots of every screen land in artifacts/screenshots/.
 */

const skip = browserSkipReason();

describe('web app in Chromium', { skip: skip ?? false }, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    await ensureBuilt();
    // A low per-user sign-in limit so the rate-limit message can be provoked quickly.
    server = await startTestServer({ loginMaxPerUser: 3 });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function newPage(kind: 'desktop' | 'phone' = 'desktop') {
    // Every page runs under the server's strict CSP; a violation is an error, and fails the test.
    const { context, page, errors } = await openPage(browser, kind);
    page.on('dialog', (d) => {
      errors.push(`unexpected dialog: ${d.message()}`);
      void d.dismiss();
    });
    return { context, page, errors };
  }

  const noObjectObject = async (page: Page) => assert.doesNotMatch(await page.locator('body').innerText(), /\[object|undefined|null/);

  test('sign in and create account: every error in words, busy button, password toggle', async () => {
    const { context, page, errors } = await newPage();
    await assertCsp(page, server.url);
    await page.getByRole('tab', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'username', 'username field has focus');
    await shot(page, 'auth-desktop-light');
    await setScheme(page, 'dark');
    await shot(page, 'auth-desktop-dark');
    await setScheme(page, 'light');

    // Empty form: told what is missing, without a round trip.
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Enter your username or email.').waitFor();
    await page.getByText('Enter your password.').waitFor();
    assert.equal(await page.getByLabel('Username or email').getAttribute('aria-invalid'), 'true');

    // Wrong password, the request held until the busy state has been seen (a delay could end first on a loaded machine).
    let letGo!: () => void;
    const seen = new Promise<void>((resolve) => (letGo = resolve));
    await page.route('**/api/login', async (route) => {
      await seen;
      await route.continue();
    });
    await page.getByLabel('Username or email').fill('nobody');
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    await page.getByLabel('Password', { exact: true }).press('Enter');
    const busy = page.getByRole('button', { name: 'Signing in…' });
    await busy.waitFor();
    assert.equal(await busy.getAttribute('aria-busy'), 'true');
    letGo();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
    await page.unroute('**/api/login');
    await shot(page, 'auth-error-desktop-light');

    // Password visibility toggle.
    const password = page.getByLabel('Password', { exact: true });
    assert.equal(await password.getAttribute('type'), 'password');
    await page.getByRole('button', { name: 'Show password' }).click();
    assert.equal(await password.getAttribute('type'), 'text');
    await page.getByRole('button', { name: 'Hide password' }).click();
    assert.equal(await password.getAttribute('type'), 'password');

    // Too many attempts for one account: the wait is given in words.
    await server.register('carol');
    for (let i = 0; i < 3; i++) {
      await page.getByLabel('Username or email').fill('carol');
      await password.fill(`wrong password ${i}`);
      await password.press('Enter');
      await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    }
    await password.fill('wrong again');
    await password.press('Enter');
    await page.getByRole('alert').filter({ hasText: /Too many attempts\. Try again in \d+ (seconds|minutes?)\./ }).waitFor();

    // Create account: the server's field errors, each under its field.
    await page.getByRole('tab', { name: 'Create account' }).click();
    await page.getByLabel('Username', { exact: true }).fill('a!');
    await page.getByLabel(/^Email/).fill('not-an-email');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    await page.getByText('Use 3-32 characters: letters, digits, _ . or -.').waitFor();
    await page.getByText('Enter a valid email address.').waitFor();
    await page.getByText('Use 8-128 characters.').waitFor();
    await noObjectObject(page);
    await shot(page, 'register-errors-desktop-light');

    await page.getByLabel('Username', { exact: true }).fill('CAROL');
    await page.getByLabel(/^Email/).fill('');
    await page.getByLabel('Password', { exact: true }).fill('long enough password');
    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    await page.getByText('That username is taken.').waitFor();

    await page.getByLabel('Username', { exact: true }).fill('dave');
    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    await waitForChat(page);
    await page.getByRole('button', { name: 'Profile and settings for dave' }).waitFor();
    assert.deepEqual(errors, []);
    await context.close();

    // Signing in (rather than registering) works too, by username or by email.
    const again = await newPage();
    await signIn(again.page, server.url, 'dave', 'long enough password');
    assert.deepEqual(again.errors, []);
    await again.context.close();
  });

  test('two people chat both ways in real time; presence, reload and logout', async () => {
    const a = await newPage();
    await register(a.page, server.url, 'alice');
    await a.page.locator('.online-pill').filter({ hasText: '1' }).waitFor();

    const b = await newPage();
    await register(b.page, server.url, 'bob');

    // Presence: alice sees bob come online in the count and the list; joining the room (on
    // registration, everyone joins general) is the membership line in the timeline, folded with
    // the earlier tests' joins into "..., and N others joined", which names everyone on hover.
    await a.page.locator('.online-pill').filter({ hasText: '2' }).waitFor();
    await a.page.locator('.user-list').getByText('bob').waitFor();
    await a.page.locator('.row-system .system-pill[title$="and bob joined"]').filter({ hasText: /and \d+ others joined/ }).waitFor();

    await sendMessage(a.page, 'Hi Bob! Are you there?');
    await b.page.locator('.row-msg.other .bubble-text').filter({ hasText: 'Hi Bob! Are you there?' }).waitFor();
    await a.page.locator('.row-msg.own.state-sent .bubble-text').filter({ hasText: 'Hi Bob! Are you there?' }).waitFor();

    // Shift+Enter makes a new line; Enter sends.
    const box = b.page.getByLabel('Message #general');
    await box.fill('Right here.');
    await box.press('Shift+Enter');
    await box.pressSequentially('Second line.');
    await box.press('Enter');
    const twoLines = a.page.locator('.row-msg.other .bubble-text').filter({ hasText: 'Second line.' });
    await twoLines.waitFor();
    assert.equal(await twoLines.innerText(), 'Right here.\nSecond line.');
    assert.equal(await box.inputValue(), '', 'composer is cleared after sending');

    await sendMessage(a.page, 'Great, the deploy is green: https://example.com/builds/42');
    await sendMessage(a.page, 'Grouped with the one before');
    await sendMessage(b.page, 'Nice work 🎉 see you at standup');
    await a.page.locator('.row-msg.other .bubble-text').filter({ hasText: 'see you at standup' }).waitFor();

    // The announcement for screen readers carries the newest message from someone else.
    await a.page.locator('[aria-live="polite"]').filter({ hasText: 'bob: Nice work' }).waitFor();

    // Grouping: alice's two consecutive messages share one header.
    const grouped = a.page.locator('.row-msg.own').filter({ hasText: 'Grouped with the one before' });
    assert.equal(await grouped.evaluate((el) => el.classList.contains('group-start')), false);

    await a.page.waitForTimeout(300);
    await shot(a.page, 'chat-desktop-light');
    await setScheme(a.page, 'dark');
    await shot(a.page, 'chat-desktop-dark');
    await setScheme(a.page, 'light');

    // Full date on hover.
    const time = a.page.locator('.row-msg.other .msg-time').first();
    assert.match((await time.getAttribute('title')) ?? '', /\d{4}/);

    // A reload lands back in the chat, with the history.
    await b.page.reload();
    await waitForChat(b.page);
    await b.page.locator('.bubble-text').filter({ hasText: 'Hi Bob! Are you there?' }).waitFor();
    assert.equal(await b.page.getByRole('tab', { name: 'Sign in' }).count(), 0);
    assert.equal(await b.page.evaluate(() => document.cookie), '', 'the session cookie is invisible to scripts');

    // Logout revokes the session: back to sign-in, and alice sees bob leave.
    await b.page.getByRole('button', { name: 'Profile and settings for bob' }).click();
    await b.page.getByRole('dialog', { name: 'Profile & settings' }).getByRole('button', { name: 'Log out' }).click();
    await b.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    await a.page.locator('.online-pill').filter({ hasText: '1' }).waitFor();
    // Going offline is presence, not membership: no "left" line (proved by a later message).
    await sendMessage(a.page, 'after bob went offline');
    await a.page.locator('.row-msg.own.state-sent .bubble-text').filter({ hasText: 'after bob went offline' }).waitFor();
    // (Checked at the bottom of the list, where the rows are in the DOM: it is windowed.)
    assert.equal(await a.page.locator('.row-system').filter({ hasText: 'left' }).count(), 0);
    await b.page.reload();
    await b.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    assert.equal(await b.page.locator('.alert-info').count(), 0, 'no "session expired" notice after a deliberate logout');
    const me = await b.page.evaluate(async () => (await fetch('/api/me')).status);
    assert.equal(me, 401);

    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test('message actions: react, edit and delete live for the other person; "/me" is an action', async () => {
    const a = await newPage();
    await register(a.page, server.url, 'ivy');
    const b = await newPage();
    await register(b.page, server.url, 'jon');

    await sendMessage(a.page, 'teh plan is ready');
    const mine = a.page.locator('.row-msg.own.state-sent').filter({ hasText: 'teh plan is ready' });
    await mine.waitFor();
    const theirs = b.page.locator('.row-msg.other').filter({ hasText: 'teh plan is ready' });
    await theirs.waitFor();

    // Jon reacts from the actions that appear on hover; Ivy sees the count, and Jon's is marked his.
    await theirs.hover();
    await theirs.getByRole('button', { name: 'React 🎉' }).click();
    await mine.locator('.reaction').filter({ hasText: '🎉 1' }).waitFor();
    await theirs.locator('.reaction.mine').filter({ hasText: '🎉 1' }).waitFor();

    // Ivy edits hers: the new text and an "(edited)" mark with the time, for both.
    await mine.hover();
    await mine.getByRole('button', { name: 'Edit' }).click();
    const box = a.page.getByLabel('Edit message');
    await box.fill('the plan is ready');
    await box.press('Enter');
    const edited = b.page.locator('.row-msg.other').filter({ hasText: 'the plan is ready' });
    await edited.locator('.edited').waitFor();
    assert.match((await edited.locator('.edited').getAttribute('title')) ?? '', /^Edited .*\d{4}/);
    assert.equal(await b.page.locator('.bubble-text').filter({ hasText: 'teh plan' }).count(), 0);

    // Typing shows for the other person, and stops with the message.
    await b.page.getByLabel('Message #general').pressSequentially('/me wav');
    await a.page.locator('.typing-line').filter({ hasText: 'jon is typing…' }).waitFor();

    // "/me" is shown as an action on both sides, as the terminal shows it.
    await sendMessage(b.page, '/me waves');
    await a.page.locator('.bubble.action').filter({ hasText: '* jon waves' }).waitFor();
    await b.page.locator('.bubble.action').filter({ hasText: 'waves' }).waitFor();
    assert.equal(await a.page.locator('.bubble-text').filter({ hasText: '/me' }).count(), 0);
    assert.equal(await a.page.locator('.typing-line').innerText(), '', 'the message ends the typing notice');

    // Ivy has the room open in a visible, focused page: what she was shown is read, on the server.
    const unread = () => a.page.evaluate(async () => ((await (await fetch('/api/rooms')).json()) as { rooms: { id: string; unread: number }[] }).rooms.find((r) => r.id === 'general')!.unread);
    for (let tries = 0; (await unread()) !== 0; tries++) {
      assert.ok(tries < 100, 'general is still unread on the server');
      await a.page.waitForTimeout(50); // polling the server's answer, not waiting for an event
    }

    // Ivy deletes hers (asked twice): a tombstone for everyone, the reaction gone with the text.
    const now = a.page.locator('.row-msg.own').filter({ hasText: 'the plan is ready' });
    await now.hover();
    await now.getByRole('button', { name: 'Delete', exact: true }).click();
    await now.getByRole('button', { name: 'Delete for everyone?' }).click();
    await b.page.locator('.bubble.tombstone').filter({ hasText: 'Message deleted' }).waitFor();
    await a.page.locator('.bubble.tombstone').waitFor();
    assert.equal(await b.page.locator('.bubble-text').filter({ hasText: 'the plan is ready' }).count(), 0);
    assert.equal(await b.page.locator('.reaction').count(), 0);

    // The reader sees all of this the same after a reload.
    await b.page.reload();
    await waitForChat(b.page);
    await b.page.locator('.bubble.action').filter({ hasText: 'waves' }).waitFor();
    await b.page.locator('.bubble.tombstone').waitFor();
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test('a session ended elsewhere sends you to sign in with a message', async () => {
    const a = await newPage();
    await register(a.page, server.url, 'erin', 'first password 1');
    const other = await newPage();
    await signIn(other.page, server.url, 'erin', 'first password 1');

    // Changing the password in one browser signs the other one out, live.
    await a.page.getByRole('button', { name: 'Profile and settings for erin' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'Profile & settings' });
    await dialog.getByLabel('Current password').fill('wrong current');
    await dialog.getByLabel('New password').fill('second password 2');
    await dialog.getByLabel('Confirm password').fill('second password 2');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await dialog.getByText('The current password is not correct.').waitFor();
    await dialog.getByLabel('Current password').fill('first password 1');
    await dialog.getByLabel('New password').fill('short');
    await dialog.getByLabel('Confirm password').fill('short');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await dialog.getByText('Use 8-128 characters.').waitFor();
    await dialog.getByLabel('New password').fill('second password 2');
    await dialog.getByLabel('Confirm password').fill('second password 2');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await dialog.getByText('Password changed. Other sessions were signed out.').waitFor();

    await other.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    await other.page.locator('.alert-info').filter({ hasText: /session/i }).waitFor();
    await shot(other.page, 'session-ended-desktop-light');
    // The first browser is still signed in and still chatting.
    await a.page.keyboard.press('Escape');
    await sendMessage(a.page, 'still here after changing my password');
    await a.page.locator('.row-msg.own.state-sent').filter({ hasText: 'still here after' }).waitFor();
    await signIn(other.page, server.url, 'erin', 'second password 2');
    assert.deepEqual(a.errors, []);
    assert.deepEqual(other.errors, []);
    await a.context.close();
    await other.context.close();

    // A session that expired while the tab was closed: the next visit explains why you are signed out.
    const k = await newPage();
    await register(k.page, server.url, 'kim');
    const kimId = await k.page.evaluate(async () => ((await (await fetch('/api/me')).json()) as { user: { id: number } }).user.id);
    await k.page.close();
    await server.app.store.deleteUserSessions(kimId);
    const later = await k.context.newPage();
    await later.goto(server.url);
    await later.locator('.alert-info').filter({ hasText: 'Your session has expired. Sign in again.' }).waitFor();
    await k.context.close();
  });

  test('a new profile picture: preview, upload progress, and the other person sees it', async () => {
    const a = await newPage();
    await register(a.page, server.url, 'frida');
    await sendMessage(a.page, 'Watch my face change');
    const b = await newPage();
    await register(b.page, server.url, 'gus');
    await b.page.locator('.bubble-text').filter({ hasText: 'Watch my face change' }).waitFor();

    await a.page.getByRole('button', { name: 'Profile and settings for frida' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'Profile & settings' });
    await dialog.getByRole('button', { name: 'Upload picture' }).waitFor();

    // Not a picture: refused before upload, in words.
    await dialog.locator('input[type=file]').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await dialog.getByText('Choose a PNG, JPEG, WebP or GIF picture.').waitFor();

    // Bytes that lie about being a PNG: the server refuses them.
    await dialog.locator('input[type=file]').setInputFiles({ name: 'evil.png', mimeType: 'image/png', buffer: Buffer.from('<svg onload=alert(1)>') });
    await dialog.getByRole('button', { name: 'Save picture' }).click();
    await dialog.getByText('Upload a PNG, JPEG, WebP or GIF picture.').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // A real (large, noisy) picture, on a throttled uplink so the progress bar is visible.
    const side = 420;
    const noise = Buffer.alloc(side * side * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919 + (i >> 7) * 104729) & 0xff;
    const png = await sharp(noise, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    await dialog.locator('input[type=file]').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png });
    await dialog.getByRole('img', { name: 'Preview of your new picture' }).waitFor();
    await shot(a.page, 'profile-preview-desktop-light');
    const cdp = await a.context.newCDPSession(a.page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
    await dialog.getByRole('button', { name: 'Save picture' }).click();
    const progress = dialog.getByRole('progressbar', { name: 'Upload progress' });
    await progress.waitFor();
    await a.page.waitForFunction(() => {
      const p = document.querySelector('progress');
      return p !== null && p.value > 0 && p.value < 1;
    });
    await shot(a.page, 'profile-uploading-desktop-light');
    await dialog.getByText('Picture updated. Everyone sees it now.').waitFor({ timeout: 20_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.detach();
    const url = await dialog.locator('.avatar-editor img').getAttribute('src');
    assert.match(url ?? '', /^\/api\/avatars\/[A-Za-z0-9_-]{22}$/);
    await shot(a.page, 'profile-desktop-light');
    await setScheme(a.page, 'dark');
    await shot(a.page, 'profile-desktop-dark');
    await setScheme(a.page, 'light');

    // Gus sees it, live: in the online list and next to frida's message.
    await b.page.locator(`.user-item img[src="${url}"]`).waitFor();
    await b.page.locator(`.row-msg.other img[src="${url}"]`).waitFor();
    assert.equal(await b.page.locator(`img[src="${url}"]`).first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth === 256 ? 'ok' : `${img.naturalWidth}`), 'ok');

    // Removing it goes back to initials, for everyone.
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await dialog.getByText('Picture removed.').waitFor();
    await b.page.locator('.user-item').filter({ hasText: 'frida' }).locator('.avatar-initials').waitFor();

    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test('hostile input renders as text: names and messages never become markup', async () => {
    const a = await newPage();
    await a.page.goto(server.url);
    // A username carrying markup is refused, and the refusal is plain text.
    await a.page.getByRole('tab', { name: 'Create account' }).click();
    await a.page.getByLabel('Username', { exact: true }).fill('<img src=x onerror=alert(1)>');
    await a.page.getByLabel('Password', { exact: true }).fill('long enough password');
    await a.page.getByRole('button', { name: 'Create account', exact: true }).click();
    await a.page.getByText('Use 3-32 characters: letters, digits, _ . or -.').waitFor();
    assert.equal(await a.page.locator('img[src=x]').count(), 0);
    await a.page.getByLabel('Username', { exact: true }).fill('mallory');
    await a.page.getByRole('button', { name: 'Create account', exact: true }).click();
    await waitForChat(a.page);

    const b = await newPage();
    await register(b.page, server.url, 'victim');

    const payloads = [
      '<img src=x onerror="window.__xss=1">',
      '<script>window.__xss=2</script>',
      '"><svg/onload=window.__xss=3>',
      '<a href="javascript:window.__xss=4">click me</a>',
      'javascript:window.__xss=5',
      '[link](javascript:window.__xss=6) and <iframe src="javascript:window.__xss=7"></iframe>',
      '&lt;b&gt;entities stay as typed&lt;/b&gt; &amp; <b>bold?</b>',
      'https://example.com/?q=<b>x</b>&r="1"',
    ];
    for (const text of payloads) await sendMessage(a.page, text);
    const received = b.page.locator('.row-msg.other .bubble-text');
    await received.filter({ hasText: 'https://example.com/?q=' }).waitFor();
    const texts = await received.allTextContents();
    for (const text of payloads) assert.ok(texts.includes(text), `shown literally: ${text}`);
    for (const page of [a.page, b.page]) {
      assert.equal(await page.evaluate(() => (window as { __xss?: number }).__xss), undefined);
      assert.equal(await page.locator('.bubble img, .bubble script, .bubble svg, .bubble iframe, .bubble b').count(), 0);
      const hrefs = await page.locator('.bubble a').evaluateAll((links) => links.map((l) => [l.getAttribute('href'), l.getAttribute('rel'), l.getAttribute('target')]));
      assert.ok(hrefs.length > 0);
      for (const [href, rel, target] of hrefs) {
        assert.match(href!, /^https:\/\//, `only http(s) URLs become links: ${JSON.stringify(hrefs)}`);
        assert.match(rel!, /noopener/);
        assert.equal(target, '_blank');
      }
      const link = page.locator('.bubble a').filter({ hasText: 'https://example.com/?q=' });
      // Angle brackets and quotes end a URL, as in every linkifier: the markup stays text.
      assert.equal(await link.getAttribute('href'), 'https://example.com/?q=');
    }
    // Look-alike hosts show as punycode, and bidi overrides cannot reverse what a message shows.
    await sendMessage(a.page, 'sign in at https://\u0430pple.com/login quickly');
    await sendMessage(a.page, 'open invoice\u202Efdp.exe and \u2067isolated\u2069 text');
    const spoof = b.page.locator('.bubble a').filter({ hasText: '/login' });
    await spoof.waitFor();
    assert.equal(await spoof.textContent(), 'https://xn--pple-43d.com/login');
    assert.equal(await spoof.getAttribute('href'), 'https://xn--pple-43d.com/login');
    const bidi = b.page.locator('.row-msg.other .bubble-text').filter({ hasText: 'open invoice' });
    await bidi.waitFor();
    assert.equal(await bidi.textContent(), 'open invoicefdp.exe and isolated text');
    await shot(b.page, 'xss-desktop-light');
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test('scrolling: pinned at the bottom, older pages without a jump, a "new messages" button when scrolled up', async () => {
    // A long backlog, stored directly so the test does not wait on the send rate limit.
    const poster = await server.register('poster');
    const before = Date.now() - 400 * 60_000;
    const backlog = Array.from({ length: 400 }, (_, i) => ({
      roomId: 'general',
      authorId: poster.user.id,
      clientId: `backlog-${i}`,
      text: `backlog ${i}${i % 5 === 0 ? ' with a longer body that wraps onto a second line in the bubble on a normal desktop window width' : ''}`,
      createdAt: before + i * 60_000,
    }));
    await storeMessages(server, backlog);

    const r = await newPage();
    // Pages of older history are held back until the test has noted where things are on screen.
    let holdPages = false;
    const held: (() => void)[] = [];
    await r.context.routeWebSocket(/\/ws/, (ws) => {
      const real = ws.connectToServer();
      real.onMessage((data) => {
        if (holdPages && typeof data === 'string' && data.includes('"reason":"request"')) held.push(() => ws.send(data));
        else ws.send(data);
      });
    });
    await register(r.page, server.url, 'reader');
    const scroller = r.page.locator('.message-scroller');
    const metrics = () => scroller.evaluate((el) => ({ top: el.scrollTop, gap: el.scrollHeight - el.scrollTop - el.clientHeight }));
    assert.ok((await metrics()).gap < 5, 'opens at the bottom');
    assert.ok((await r.page.locator('.vlist-row').count()) < 80, 'only the rows near the viewport are in the DOM');

    // Scroll up a little: the newest message from someone else now shows a button, not a jump.
    // The app re-renders in the same task, before the browser dispatches the scroll event (here an
    // "online" event; in life a frame arriving): the list must honour the reader's move, not snap back.
    await scroller.evaluate((el) => {
      el.scrollTop -= 900;
      window.dispatchEvent(new Event('online'));
    });
    await r.page.getByRole('button', { name: 'Jump to latest messages' }).waitFor();
    const firstVisible = () =>
      r.page.evaluate(() => {
        const view = document.querySelector('.message-scroller')!.getBoundingClientRect();
        const first = [...document.querySelectorAll('.row-msg .bubble-text')].find((b) => b.getBoundingClientRect().top >= view.top);
        return first ? { text: first.textContent!, y: Math.round(first.getBoundingClientRect().top) } : null;
      });
    const seen = await firstVisible();
    const other = await newPage();
    await signIn(other.page, server.url, 'poster');
    await sendMessage(other.page, 'news while you were reading');
    const jump = r.page.getByRole('button', { name: /1 new message: jump to latest/ });
    await jump.waitFor();
    assert.deepEqual(await firstVisible(), seen, 'the view did not move');
    await shot(r.page, 'new-messages-desktop-light');
    await jump.click();
    await r.page.locator('.bubble-text', { hasText: 'news while you were reading' }).waitFor();
    await r.page.waitForFunction(() => {
      const el = document.querySelector('.message-scroller')!;
      return el.scrollHeight - el.scrollTop - el.clientHeight < 5;
    });
    await jump.waitFor({ state: 'detached' });

    // Older history, page by page: the message at the top of the view stays exactly where it was.
    holdPages = true;
    for (let page = 0; page < 3; page++) {
      await scroller.evaluate((el) => (el.scrollTop = 0));
      await r.page.waitForFunction(() => document.querySelector('.row-loading .spinner') !== null);
      await until(() => held.length > 0, 'the older page never came');
      assert.equal(held.length, 1, 'one page requested');
      const anchor = await firstVisible();
      assert.ok(anchor && anchor.y < 800, 'a message is visible at the top');
      held.shift()!();
      await r.page.waitForFunction(() => document.querySelector('.row-loading .spinner') === null);
      await frames(r.page); // the new rows are measured
      const y = await r.page.evaluate((text) => {
        const same = [...document.querySelectorAll('.row-msg .bubble-text')].find((b) => b.textContent === text);
        return same ? same.getBoundingClientRect().top : null;
      }, anchor.text);
      assert.ok(y !== null && Math.abs(y - anchor.y) < 2, `no jump: "${anchor.text}" moved from ${anchor.y} to ${y}`);
    }
    holdPages = false;
    assert.deepEqual(r.errors, []);
    await r.context.close();
    await other.context.close();
  });

  test('phone: the side menu opens from the menu button and closes on Escape or an outside tap', async () => {
    const friend = await newPage();
    await register(friend.page, server.url, 'hana');
    await sendMessage(friend.page, 'Anyone on mobile today?');

    const p = await newPage('phone');
    await p.page.goto(server.url);
    await p.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    await shot(p.page, 'auth-phone-light');
    await setScheme(p.page, 'dark');
    await shot(p.page, 'auth-phone-dark');
    await setScheme(p.page, 'light');
    await register(p.page, server.url, 'ivan');
    await sendMessage(p.page, 'Yes! Writing from a phone, which wraps long lines nicely.');
    await sendMessage(friend.page, 'Looks great on a small screen');
    await p.page.locator('.bubble-text').filter({ hasText: 'Looks great on a small screen' }).waitFor();

    const sidebar = p.page.locator('#sidebar');
    const menuButton = p.page.getByRole('button', { name: 'Open menu' });
    assert.equal(await sidebar.isVisible(), false, 'menu starts closed');
    await shot(p.page, 'chat-phone-light');
    await setScheme(p.page, 'dark');
    await shot(p.page, 'chat-phone-dark');
    await setScheme(p.page, 'light');

    await menuButton.tap();
    await sidebar.getByText('hana').waitFor();
    assert.equal(await menuButton.getAttribute('aria-expanded'), 'true');
    assert.equal(await p.page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Close menu');
    await shot(p.page, 'menu-phone-light');
    await setScheme(p.page, 'dark');
    await shot(p.page, 'menu-phone-dark');
    await setScheme(p.page, 'light');

    await p.page.keyboard.press('Escape');
    await sidebar.waitFor({ state: 'hidden' });
    assert.equal(await p.page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Open menu', 'focus returns to the menu button');

    await menuButton.tap();
    await sidebar.getByText('hana').waitFor();
    await p.page.touchscreen.tap(370, 420); // on the dimmed chat, outside the menu
    await sidebar.waitFor({ state: 'hidden' });

    // Profile opens from the side menu.
    await menuButton.tap();
    await sidebar.getByRole('button', { name: 'Profile and settings for ivan' }).tap();
    await p.page.getByRole('dialog', { name: 'Profile & settings' }).waitFor();
    await shot(p.page, 'profile-phone-light');
    await setScheme(p.page, 'dark');
    await shot(p.page, 'profile-phone-dark');
    await setScheme(p.page, 'light');
    await p.page.getByRole('button', { name: 'Close', exact: true }).tap();
    await p.page.getByRole('dialog', { name: 'Profile & settings' }).waitFor({ state: 'hidden' });

    assert.deepEqual(p.errors, []);
    await p.context.close();
    await friend.context.close();
  });

  test('keyboard only: sign in, skip to the composer, send, open and close the profile', async () => {
    await server.register('jules', 'keyboard password');
    const k = await newPage();
    await k.page.goto(server.url);
    await k.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    // Focus starts in the username field.
    await k.page.keyboard.type('jules');
    await k.page.keyboard.press('Tab');
    await k.page.keyboard.type('keyboard password');
    await k.page.keyboard.press('Enter');
    await waitForChat(k.page);
    // Signed in, the composer has focus: typing needs no click.
    await k.page.waitForFunction(() => document.activeElement?.id === 'composer-input');

    // The skip link is the first stop of the page (here reached back from the sidebar's brand,
    // where a click leaves the focus starting point), and Enter lands in the composer.
    await k.page.locator('.sidebar .brand-row').click();
    await k.page.keyboard.press('Shift+Tab');
    const skipLink = k.page.getByRole('link', { name: 'Skip to message box' });
    assert.equal(await skipLink.evaluate((el) => el === document.activeElement), true);
    await k.page.keyboard.press('Enter');
    assert.equal(await k.page.evaluate(() => document.activeElement?.id), 'composer-input');
    await k.page.keyboard.type('typed without a mouse');
    await k.page.keyboard.press('Enter');
    await k.page.locator('.row-msg.own.state-sent').filter({ hasText: 'typed without a mouse' }).waitFor();

    // The send button comes next, and focus is visible on it.
    await k.page.keyboard.press('Tab');
    const outline = await k.page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const style = getComputedStyle(el);
      return { label: el.getAttribute('aria-label'), outline: style.outlineStyle, width: style.outlineWidth };
    });
    assert.equal(outline.label, 'Send message');
    assert.notEqual(outline.outline, 'none');
    assert.notEqual(outline.width, '0px');

    // Tab order backwards from the composer: the message list (one stop: its newest message; see
    // keyboard.test.ts), the theme toggle, then the profile button in the sidebar.
    const seen: string[] = [];
    await k.page.keyboard.press('Shift+Tab'); // back to the composer
    for (let i = 0; i < 40 && seen.at(-1) !== 'Profile and settings for jules'; i++) {
      await k.page.keyboard.press('Shift+Tab');
      seen.push(
        await k.page.evaluate(() => {
          const el = document.activeElement;
          if (el?.getAttribute('role') === 'article') return `message: ${el.querySelector('.bubble-text')?.textContent ?? ''}`;
          return el?.getAttribute('aria-label') ?? el?.tagName ?? '';
        }),
      );
    }
    const at = (label: string | RegExp) => seen.findIndex((s) => (typeof label === 'string' ? s === label : label.test(s)));
    assert.ok(at('message: typed without a mouse') >= 0, `message list is reachable: ${seen.join(' < ')}`);
    assert.equal(seen.filter((s) => s.startsWith('message: ')).length, 1, `the list is one Tab stop: ${seen.join(' < ')}`);
    assert.ok(at(/Switch to (dark|light) theme/) > at('message: typed without a mouse'), seen.join(' < '));
    assert.ok(at('Profile and settings for jules') > at(/Switch to/), seen.join(' < '));
    await k.page.keyboard.press('Enter');
    const dialog = k.page.getByRole('dialog', { name: 'Profile & settings' });
    await dialog.waitFor();
    assert.equal(await dialog.evaluate((d) => d.contains(document.activeElement)), true, 'focus moves into the dialog');
    await k.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // Focus goes back to the button that opened the dialog.
    await k.page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Profile and settings for jules');

    assert.deepEqual(k.errors, []);
    await k.context.close();
  });
});
