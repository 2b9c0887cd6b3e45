// Small formatting helpers shared by the scenario reports.

export const TARGET_LABELS = { chatter: 'Chatter', 'chatter-nopace': 'Chatter, pacing off', 'chatter-syncnormal': 'Chatter, synchronous=NORMAL', socketio: 'Socket.IO 4', 'ws-floor': 'ws floor', 'ws-coalesce': 'coalescing floor' };

export function label(target) {
  return TARGET_LABELS[target] ?? target;
}

/** Thousands separators, `digits` decimals; '–' for missing values. */
export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return '∞';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Microseconds shown as milliseconds. */
export function ms(micros, digits = 1) {
  return micros === null || micros === undefined || Number.isNaN(micros) ? '–' : num(micros / 1000, digits);
}

export function ratio(a, b, digits = 2) {
  if (a === null || b === null || a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b) || b === 0) return '–';
  return `${num(a / b, digits)}×`;
}

export function pct(share, digits = 0) {
  return share === null || share === undefined || Number.isNaN(share) ? '–' : `${num(share * 100, digits)}%`;
}

/** A markdown table; columns whose cells are all figures are right-aligned, text stays left. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  // A figure, optionally with its min–max range over rounds: `45.2 (38.1–70.9)`, `12% (9%–15%)`.
  const figure = /^[-–~≤≥<>]?\s*[\d.,]+\s*(×|%|ms|s|KB|KiB|MB)?( \([\d.,]+\s*(×|%|ms|s|KB|KiB|MB)?–[\d.,]+\s*(×|%|ms|s|KB|KiB|MB)?\))?$|^–$|^$/;
  const align = header.map((_, i) => (i > 0 && rows.every((r) => figure.test(String(r[i] ?? '').trim())) ? '---:' : '---'));
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

/**
 * A verdict row: {target, measured, met: true|false|null, reason?}. null: not judged (not measured,
 * not at the target's scale, or `reason`, e.g. 'generator-bound'); reason 'context' marks a row
 * shown for comparison only, which no target applies to.
 */
export function verdict(met, reason) {
  if (met === null || met === undefined) return reason === 'context' ? 'context' : reason ? `not judged: ${reason}` : 'not judged';
  return met ? '**met**' : '**not met**';
}

/**
 * A verdict judged only at the scale its target names: below it (quick mode's small counts), the
 * figure is shown but not judged, since e.g. pacing only pays in rooms large enough to need it.
 */
export function atScale(v, actual, required, what) {
  if (actual >= required || v.met === null) return v;
  return { ...v, measured: `${v.measured} (at ${num(actual)} ${what}; the target is set at ${num(required)})`, met: null };
}

export function verdictTable(rows, issue = 'issue 4') {
  return table(
    [`Target (${issue})`, 'Measured', 'Verdict'],
    rows.map((r) => [r.target, r.measured, verdict(r.met, r.reason)]),
  );
}

export function sum(values) {
  return values.reduce((a, b) => a + (b ?? 0), 0);
}

export function maxOf(values) {
  const v = values.filter((x) => x !== null && x !== undefined && !Number.isNaN(x));
  return v.length ? Math.max(...v) : null;
}

export function countsMerge(list) {
  const out = {};
  for (const counts of list) for (const [k, v] of Object.entries(counts ?? {})) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function countsText(counts) {
  const entries = Object.entries(counts ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}: ${num(v)}`).join(', ') : 'none';
}
