/**
 * Web app performance, measured in Chromium against a real server (not a timed test):
 *  - initial JS, gzipped;
 *  - first chat render after sign-in;
 *  - 10,000 messages paged into the list, then scrolled end to end: long tasks (> 50 ms, from
 *    Chromium's performance timeline) and frame times.
 * Run: node --conditions=source --import tsx packages/web/bench/ui.ts [--messages 10000]
 */
import { startTestServer, storeMessages } from '@chatter/server/testing';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { contextOptions, distDir, ensureBuilt, launch, waitForChat } from '../test/harness.js';

const argIndex = process.argv.indexOf('--messages');
const TOTAL = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 10_000;

await ensureBuilt();
const html = readFileSync(join(distDir, 'index.html'), 'utf8');
const initialScripts = [...html.matchAll(/<script[^>]+src="\/?([^"]+)"/g)].map((m) => m[1]!);
const jsFiles = readdirSync(join(distDir, 'assets')).filter((f) => f.endsWith('.js'));
const gz = (file: string) => gzipSync(readFileSync(join(distDir, file))).length;
const initialJsGzip = initialScripts.reduce((sum, f) => sum + gz(f), 0);
const cssGzip = readdirSync(join(distDir, 'assets')).filter((f) => f.endsWith('.css')).reduce((s, f) => s + gz(`assets/${f}`), 0);

const server = await startTestServer();
const browser = await launch();
try {
  const reader = await server.register('reader', 'benchmark password');
  const authors = await Promise.all(['ana', 'ben', 'chen', 'dara'].map((n) => server.register(n)));
  const samples = [
    'Short one.',
    'A medium message with a link https://example.com/docs/guide?section=3 and some more words after it.',
    'A longer message that wraps over several lines on a desktop window, to give the list rows of different heights, which is what makes windowing interesting: every row has to be measured.',
    'Two lines\nin one message',
    'ok',
  ];
  const start = Date.now() - TOTAL * 60_000; // one message a minute: day separators every 1,440 messages
  const authorIds = [reader.user.id, ...authors.map((a) => a.user.id)];
  for (let i = 0; i < TOTAL; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(TOTAL, i + 500); j++) {
      batch.push({ roomId: 'general', authorId: authorIds[j % authorIds.length]!, clientId: `bench-${j}`, text: `#${j + 1} ${samples[j % samples.length]}`, createdAt: start + j * 60_000 });
    }
    await storeMessages(server, batch);
  }

  const context = await browser.newContext(contextOptions('desktop', { reducedMotion: 'no-preference' }));
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByLabel('Username or email').fill('reader');
  await page.getByLabel('Password', { exact: true }).fill('benchmark password');
  const t0 = Date.now();
  await page.getByLabel('Password', { exact: true }).press('Enter');
  await page.locator('.row-msg').first().waitFor();
  const firstRenderMs = Date.now() - t0;
  await waitForChat(page);

  await page.evaluate(() => {
    const w = window as unknown as { __long: number[] };
    w.__long = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__long.push(e.duration);
    }).observe({ type: 'longtask' });
  });

  // Page in the whole history by scrolling to the top until the beginning shows.
  const loadStart = Date.now();
  for (let i = 0; i < TOTAL / 50 + 20; i++) {
    const done = await page.evaluate(async () => {
      const el = document.querySelector('.message-scroller') as HTMLElement;
      el.scrollTop = 0;
      await new Promise((r) => setTimeout(r, 30));
      return document.querySelector('.row-start h2') !== null;
    });
    if (done) break;
    await page.locator('.row-loading .spinner').waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
  }
  const loadAllMs = Date.now() - loadStart;
  const loadLong = await page.evaluate(() => (window as unknown as { __long: number[] }).__long.splice(0));

  const cssIndex = process.argv.indexOf('--css');
  if (cssIndex > 0) await page.addStyleTag({ content: process.argv[cssIndex + 1]! });
  const trace = process.argv.includes('--trace');
  if (trace) await browser.startTracing(page, { path: '/tmp/ui-trace.json', categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'v8'] });
  const profile = process.argv.includes('--profile');
  const cdp = profile ? await context.newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  // Scroll the whole list top to bottom: steady (like a wheel) then in big jumps (scrollbar drag).
  const mode = process.argv.includes('--steady') ? 'steady' : process.argv.includes('--jumps') ? 'jumps' : 'mixed';
  const scroll = await page.evaluate(async (mode) => {
    const el = document.querySelector('.message-scroller') as HTMLElement;
    const frames: number[] = [];
    let maxRows = 0;
    // (No named inner functions: tsx would wrap them in a helper that does not exist in the page.)
    el.scrollTop = 0;
    let last = await new Promise<number>((r) => requestAnimationFrame(r));
    for (let step = 0; el.scrollTop + el.clientHeight < el.scrollHeight - 2 && step < 20_000; step++) {
      el.scrollTop += mode === 'steady' ? 160 : mode === 'jumps' ? 4000 : step % 10 === 9 ? 4000 : 160;
      const now = await new Promise<number>((r) => requestAnimationFrame(r));
      frames.push(now - last);
      last = now;
      maxRows = Math.max(maxRows, document.querySelectorAll('.vlist-row').length);
    }
    return { frames, maxRows, height: el.scrollHeight };
  }, mode);
  if (cdp) {
    const { profile: prof } = (await cdp.send('Profiler.stop')) as { profile: { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[] } };
    const self = new Map<string, number>();
    for (const n of prof.nodes) {
      const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
      self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
    }
    console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25));
  }
  if (trace) await browser.stopTracing();
  const scrollLong = await page.evaluate(() => (window as unknown as { __long: number[] }).__long.splice(0));
  const rowsInModel = await page.locator('.row-msg').count();
  const sorted = [...scroll.frames].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

  const result = {
    messages: TOTAL,
    initialJsGzipKB: +(initialJsGzip / 1024).toFixed(1),
    cssGzipKB: +(cssGzip / 1024).toFixed(1),
    jsFiles,
    firstChatRenderMs: firstRenderMs,
    loadAllHistoryMs: loadAllMs,
    longTasksWhileLoading: { count: loadLong.length, maxMs: Math.round(Math.max(0, ...loadLong)) },
    scrollFrames: scroll.frames.length,
    frameMs: { p50: +pct(50).toFixed(1), p95: +pct(95).toFixed(1), max: +pct(100).toFixed(1) },
    longTasksWhileScrolling: { count: scrollLong.length, over50ms: scrollLong.filter((d) => d > 50).length, maxMs: Math.round(Math.max(0, ...scrollLong)) },
    domRowsMax: scroll.maxRows,
    messageRowsInDomAtEnd: rowsInModel,
    listHeightPx: scroll.height,
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  await server.close();
}
