/**
 * Shared setup for the browser suites: Debian's Chromium driven by playwright-core, the web app
 * built once (only when its sources are newer than dist), screenshots under artifacts/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatterApi, ChatterClient } from '@chatter/client';
import type { RoomResponse } from '@chatter/protocol';
import { CONTENT_SECURITY_POLICY, type TestServer, type TestUser } from '@chatter/server/testing';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { WebSocket } from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
export const webRoot = resolve(here, '..');
export const repoRoot = resolve(webRoot, '../..');
export const distDir = join(webRoot, 'dist');
export const screenshotDir = join(repoRoot, 'artifacts/screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Why the browser suites cannot run here, or null when they can. Outside CI a missing Chromium
 * skips them (loudly); in CI it fails them, so a broken runner never passes by skipping.
 */
export function browserSkipReason(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `Chromium not found at ${CHROMIUM}: browser tests SKIPPED (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === 'true') throw new Error(`${reason}; refusing to skip in CI.`);
  console.warn(`\n!!! ${reason} !!!\n`);
  return reason;
}

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

function sourcesMtime(): number {
  const inputs = [join(webRoot, 'src'), join(webRoot, 'index.html'), join(webRoot, 'vite.config.ts'), join(webRoot, 'public')];
  // The app bundles the SDK and protocol from source, so their changes count too.
  inputs.push(join(repoRoot, 'packages/client/src'), join(repoRoot, 'packages/protocol/src'));
  return Math.max(...inputs.filter(existsSync).map(newestMtime));
}

/** Build packages/web/dist unless it is newer than every source. Serialized across test processes with a lock directory. */
export async function ensureBuilt(): Promise<void> {
  const index = join(distDir, 'index.html');
  const fresh = () => existsSync(index) && statSync(index).mtimeMs >= sourcesMtime();
  if (fresh()) return;
  const lock = join(webRoot, '.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than two minutes belongs to a build that died.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another web build');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (fresh()) return;
    // A child process: the test runner's NODE_ENV=test would otherwise give React's development build.
    const vite = join(repoRoot, 'node_modules/vite/bin/vite.js');
    const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
      cwd: webRoot,
      env: { ...process.env, NODE_ENV: 'production' },
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`vite build failed:\n${result.stdout}\n${result.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface LaunchOptions {
  /**
   * Show classic scrollbars, as a desktop browser does. Headless Chromium hides them by default, and
   * then a scrollbar that appears can never narrow the list: bugs that only a real window shows
   * (like the measurement loop behind React error 185) stay hidden.
   */
  scrollbars?: boolean;
}

export async function launch(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    ...(options.scrollbars && { ignoreDefaultArgs: ['--hide-scrollbars'] }),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function contextOptions(kind: 'desktop' | 'phone', extra: BrowserContextOptions = {}): BrowserContextOptions {
  return kind === 'desktop'
    ? { viewport: DESKTOP, deviceScaleFactor: 1, reducedMotion: 'reduce', ...extra }
    : { viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, reducedMotion: 'reduce', ...extra };
}

/**
 * A fresh context (its own cookie jar) and page, as every browser suite wants them: CSP violations,
 * page errors and console errors are collected in `errors`, which a test asserts empty at its end.
 */
export async function openPage(browser: Browser, kind: 'desktop' | 'phone' = 'desktop', extra: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext(contextOptions(kind, extra));
  await reportCspViolations(context);
  const page = await context.newPage();
  return { context, page, errors: watchErrors(page) };
}

/** Fail the test on any uncaught page error or console error (a React warning included). */
export function watchErrors(page: Page, ignore: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Failed requests we provoke on purpose (401 from /api/me before sign-in, wrong password...) log as console errors.
    if (/Failed to load resource/.test(text) || ignore.some((r) => r.test(text))) return;
    errors.push(`console: ${text}`);
  });
  return errors;
}

/**
 * The Content-Security-Policy the server sends with the app: no inline script or style, nothing
 * from other origins. The browser suites run the app under it and fail on any violation.
 */
export const CSP = CONTENT_SECURITY_POLICY;

/**
 * Report every CSP violation on the context's pages as a console error, which `watchErrors`
 * fails the test on (Chromium also logs its own "Refused to ..." line; this one names the directive).
 */
export async function reportCspViolations(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline code'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
}

/** The app's page was served under exactly CSP. */
export async function assertCsp(page: Page, url: string): Promise<void> {
  const response = await page.goto(url);
  const policy = response?.headers()['content-security-policy'];
  if (policy !== CSP) throw new Error(`expected the app under the CSP\n  ${CSP}\nbut got\n  ${policy}`);
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
}

/** Screenshots of a page in light and then dark (`<dir>/<name>-light.png`, `-dark.png`), left in light. */
export async function shootBothSchemes(page: Page, dir: string, name: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}-light.png`) });
  await setScheme(page, 'dark');
  await page.screenshot({ path: join(dir, `${name}-dark.png`) });
  await setScheme(page, 'light');
}

export async function setScheme(page: Page, scheme: 'light' | 'dark'): Promise<void> {
  await page.emulateMedia({ colorScheme: scheme });
  await page.waitForFunction((s) => document.documentElement.dataset.theme === s, scheme);
}

export async function register(page: Page, baseUrl: string, username: string, password = 'correct horse battery'): Promise<void> {
  await page.goto(baseUrl);
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await waitForChat(page);
}

export async function signIn(page: Page, baseUrl: string, username: string, password = 'correct horse battery'): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('Username or email').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Password', { exact: true }).press('Enter');
  await waitForChat(page);
}

export async function waitForChat(page: Page): Promise<void> {
  await page.locator('.conn[data-status="online"]').waitFor({ timeout: 15_000 });
  await page.locator('.message-scroller').waitFor();
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  const box = page.getByLabel('Message #general');
  await box.fill(text);
  await box.press('Enter');
}

/** The bubble texts in the list, in order. */
/**
 * Two animation frames: the browser has since dispatched the scroll events and run the resize
 * observers of what happened before (both are steps of a frame's rendering).
 */
export async function frames(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
}

/** Wait for a condition of the test's own process that no event announces; fails with `reason`. */
export async function until(check: () => boolean, reason: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${reason} (after ${timeoutMs} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function bubbles(page: Page) {
  return page.locator('.row-msg .bubble-text');
}

/** A room made for a test by one of its people (`owner`, one of the names given to `usersInRoom`). */
export interface TestRoom {
  owner: string;
  name: string;
  topic?: string;
  visibility?: 'public' | 'private';
}

/**
 * The people of a test, the way most browser tests begin: `names` registered in that order (so
 * their ids follow it), everyone in #general as every account is; then each of `rooms` created by
 * its `owner`, in order, and then the others put in each: joined (a public room) or added by the
 * owner (a private one). Resolves with the users in the order named and the rooms in the order given.
 */
export async function usersInRoom<const N extends readonly string[], const R extends ReadonlyArray<TestRoom & { owner: N[number] }> = []>(
  server: TestServer,
  names: N,
  ...rooms: R
): Promise<{ users: { [K in keyof N]: TestUser }; rooms: { [K in keyof R]: RoomResponse['room'] } }> {
  const users: TestUser[] = [];
  for (const name of names) users.push(await server.register(name));
  const ownerOf = (room: TestRoom) => users[names.indexOf(room.owner)]!;
  const made: Array<RoomResponse['room']> = [];
  for (const room of rooms) {
    made.push((await apiOf(server, ownerOf(room)).createRoom({ name: room.name, visibility: room.visibility ?? 'public', ...(room.topic !== undefined && { topic: room.topic }) })).room);
  }
  for (const [i, room] of rooms.entries()) {
    const owner = ownerOf(room);
    for (const u of users) {
      if (u === owner) continue;
      if ((room.visibility ?? 'public') === 'public') await apiOf(server, u).joinRoom(made[i]!.id);
      else await apiOf(server, owner).addMember(made[i]!.id, u.user.id);
    }
  }
  return { users: users as { [K in keyof N]: TestUser }, rooms: made as { [K in keyof R]: RoomResponse['room'] } };
}

/** A user's REST client. */
export function apiOf(server: TestServer, u: TestUser): ChatterApi {
  return new ChatterApi({ baseUrl: server.url, token: u.token });
}

/** A page of its own (`openPage`) signed in as `username`: the other side of most tests. */
export async function openAs(browser: Browser, server: TestServer, username: string, kind: 'desktop' | 'phone' = 'desktop'): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const opened = await openPage(browser, kind);
  await signIn(opened.page, server.url, username);
  return opened;
}

/** Someone else, connected from Node through the SDK; a suite closes them all in its `after`. */
export class SdkPeople {
  private readonly clients: ChatterClient[] = [];

  /** Online (its hello is in) when it resolves. */
  async connect(server: TestServer, u: TestUser): Promise<ChatterClient> {
    const c = new ChatterClient({ url: server.url, token: u.token, WebSocket });
    this.clients.push(c);
    const online = new Promise<void>((resolve) => c.on('hello', () => resolve()));
    c.connect();
    await online;
    return c;
  }

  close(): void {
    for (const c of this.clients.splice(0)) c.close();
  }
}

/** Send from the SDK and wait for the stored message (the sender's own copy of it): its id. */
export function say(c: ChatterClient, text: string, room = 'general'): Promise<number> {
  const stored = new Promise<number>((resolve) => {
    const off = c.on('message', (m) => {
      if (m.room === room && m.text === text) {
        off();
        resolve(m.id);
      }
    });
  });
  c.send(room, text);
  return stored;
}
