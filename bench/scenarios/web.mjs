// The web app in Chromium (issue 3's budget): initial JS gzipped, first chat render after sign-in,
// and 10,000 messages paged in and scrolled end to end without long tasks. The browser is driven by
// packages/web/bench/ui.ts, which starts its own server; this module runs it once in `prepare`
// and hands its JSON to the report. Needs Debian's Chromium at /usr/bin/chromium.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/targets.mjs';
import { num, table, verdictTable } from '../report/format.mjs';

const CHROMIUM = '/usr/bin/chromium';

function messagesFor(quick) {
  return quick ? 2_000 : 10_000;
}

export default {
  id: 'web',
  title: 'Web app in Chromium',
  targets: ['chatter'],

  plan({ quick }) {
    const messages = messagesFor(quick);
    // `ui.ts` starts its own server in `prepare`: the run only hands its figures on, with no server.
    return { rounds: 1, chatterDataDir: 'own', server: false, steps: [{ key: String(messages), params: { messages } }] };
  },

  async prepare(ctx) {
    if (!existsSync(CHROMIUM)) {
      ctx.say(`web: ${CHROMIUM} is missing (apt-get install chromium); not measured`);
      return { extra: { skipped: `${CHROMIUM} is missing` } };
    }
    const messages = messagesFor(ctx.quick);
    const child = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(ROOT, 'packages/web/bench/ui.ts'), '--messages', String(messages)], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    });
    const out = child.stdout ?? '';
    const start = out.lastIndexOf('\n{') + 1;
    if (child.status !== 0 || !out.trim()) return { extra: { skipped: `ui.ts failed: ${(child.stderr || out).slice(-500)}` } };
    return { extra: { ui: JSON.parse(out.slice(start)) } };
  },

  async load(_params, ctx) {
    return ctx.extra.ui ?? { skipped: ctx.extra.skipped };
  },

  summaryLine(r) {
    if (r.skipped) return `not measured: ${r.skipped}`;
    return `JS ${r.initialJsGzipKB} KB gz, first render ${r.firstChatRenderMs} ms, ${r.longTasksWhileScrolling.over50ms} long tasks > 50 ms scrolling ${num(r.messages)} messages`;
  },

  report(runs) {
    const r = runs.find((x) => x.result)?.result;
    if (!r || r.skipped) return { markdown: `Not measured${r?.skipped ? `: ${r.skipped}` : ''}.`, charts: [], verdicts: [] };
    const lines = [
      `Measured by \`packages/web/bench/ui.ts\` in Debian's Chromium (headless) against a real server: sign in, open the chat, page ${num(r.messages)} messages into the list, then scroll it end to end. Long tasks come from Chromium's performance timeline.`,
      '',
      table(
        ['Measure', 'Value'],
        [
          ['initial JS, gzipped', `${r.initialJsGzipKB} KB (CSS ${r.cssGzipKB} KB)`],
          ['first chat render after sign-in', `${num(r.firstChatRenderMs)} ms`],
          [`loading all ${num(r.messages)} messages (page by page)`, `${num(r.loadAllHistoryMs)} ms; long tasks ${r.longTasksWhileLoading.count} (max ${r.longTasksWhileLoading.maxMs} ms)`],
          ['long tasks while scrolling', `${r.longTasksWhileScrolling.count} (over 50 ms: ${r.longTasksWhileScrolling.over50ms}; max ${r.longTasksWhileScrolling.maxMs} ms)`],
          ['frame time while scrolling, p50 / p95 / max', `${r.frameMs.p50} / ${r.frameMs.p95} / ${r.frameMs.max} ms over ${num(r.scrollFrames)} frames`],
          ['message rows in the DOM at most', num(r.domRowsMax)],
        ],
      ),
    ];
    const verdicts = [
      { target: 'Initial JS ≤ 150 KB gzipped', measured: `${r.initialJsGzipKB} KB`, met: r.initialJsGzipKB <= 150 },
      { target: 'First chat render after sign-in < 1 s', measured: `${num(r.firstChatRenderMs)} ms`, met: r.firstChatRenderMs < 1000 },
      {
        target: `${num(r.messages)} messages in the list without long tasks over 50 ms while scrolling`,
        measured: `${r.longTasksWhileScrolling.over50ms} over 50 ms (max ${r.longTasksWhileScrolling.maxMs} ms)`,
        met: r.messages >= 10_000 ? r.longTasksWhileScrolling.over50ms === 0 : null,
      },
    ];
    lines.push('', verdictTable(verdicts, 'issue 3'));
    return { markdown: lines.join('\n'), charts: [], verdicts };
  },
};
