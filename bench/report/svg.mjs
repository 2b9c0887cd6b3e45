// Dependency-free SVG line charts: one series per target against offered load. A point may carry a
// range ([x, y, low, high]: the median of several rounds with their min and max), drawn as a whisker.

const COLORS = { chatter: '#2563eb', socketio: '#dc2626', 'ws-floor': '#16a34a', 'ws-coalesce': '#7c3aed' };
const FALLBACK = ['#ea580c', '#0891b2', '#ca8a04'];

function esc(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceStep(range, ticks) {
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

function fmtTick(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(2)}k`;
  if (a < 1) return `${+v.toPrecision(2)}`;
  return `${+v.toFixed(1)}`;
}

/**
 * @param {{title: string, xLabel: string, yLabel: string, logY?: boolean,
 *   subtitle?: string, series: {key: string, name: string, points: ([number, number] | [number, number, number, number])[]}[]}} spec
 */
export function lineChart({ title, subtitle, xLabel, yLabel, series, logY = false, reference, width = 640, height = 360 }) {
  const m = { top: 40, right: 150, bottom: 50, left: 70 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const ok = (y) => Number.isFinite(y) && (!logY || y > 0);
  const pts = [...series, ...(reference ? [reference] : [])].flatMap((s) => s.points).filter(([, y]) => ok(y));
  const xs = pts.map(([x]) => x);
  // The axes take in the whiskers too.
  const ys = pts.flatMap(([, y, lo, hi]) => [y, lo, hi].filter(ok));
  const xMin = 0;
  const xMax = Math.max(1, ...xs) * 1.05;
  let yTicks;
  let yScale;
  if (logY) {
    const lo = Math.floor(Math.log10(Math.min(...ys, 1)));
    const hi = Math.ceil(Math.log10(Math.max(...ys, 10)));
    yTicks = [];
    for (let e = lo; e <= hi; e++) yTicks.push(10 ** e);
    yScale = (y) => m.top + h - ((Math.log10(y) - lo) / Math.max(1, hi - lo)) * h;
  } else {
    const yMax = Math.max(1, ...ys) * 1.1;
    const step = niceStep(yMax, 5);
    yTicks = [];
    for (let t = 0; t <= yMax + step / 2; t += step) yTicks.push(t);
    const top = yTicks[yTicks.length - 1];
    yScale = (y) => m.top + h - (y / top) * h;
  }
  const xStep = niceStep(xMax, 5);
  const xTicks = [];
  for (let t = xMin; t <= xMax; t += xStep) xTicks.push(t);
  const xScale = (x) => m.left + ((x - xMin) / (xMax - xMin)) * w;

  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="${m.left}" y="36" font-size="11" fill="#6b7280">${esc(subtitle)}</text>`);
  for (const t of yTicks) {
    const y = yScale(t);
    out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${m.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#374151">${fmtTick(t)}</text>`);
  }
  for (const t of xTicks) {
    const x = xScale(t);
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top}" y2="${m.top + h}" stroke="#f3f4f6"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${m.top + h + 16}" text-anchor="middle" fill="#374151">${fmtTick(t)}</text>`);
  }
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + h}" stroke="#111827"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="#111827"/>`);
  out.push(`<text x="${m.left + w / 2}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}${logY ? ' (log scale)' : ''}</text>`);
  if (reference) {
    const p = reference.points.filter(([, y]) => Number.isFinite(y) && (!logY || y > 0)).sort((a, b) => a[0] - b[0]);
    out.push(`<polyline fill="none" stroke="#9ca3af" stroke-width="1.5" stroke-dasharray="5 4" points="${p.map(([x, y]) => `${xScale(x).toFixed(1)},${yScale(y).toFixed(1)}`).join(' ')}"/>`);
    const ly = m.top + 10 + series.length * 20;
    out.push(`<line x1="${m.left + w + 16}" x2="${m.left + w + 30}" y1="${ly - 7}" y2="${ly - 7}" stroke="#9ca3af" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${m.left + w + 36}" y="${ly - 3}">${esc(reference.name)}</text>`);
  }
  series.forEach((s, i) => {
    const color = COLORS[s.key] ?? FALLBACK[i % FALLBACK.length];
    const p = s.points.filter(([, y]) => ok(y)).sort((a, b) => a[0] - b[0]);
    if (p.length) {
      for (const [x, , lo, hi] of p) {
        if (!ok(lo) || !ok(hi) || lo === hi) continue;
        const cx = xScale(x);
        const [y1, y2] = [yScale(lo), yScale(hi)].map((v) => v.toFixed(1));
        out.push(`<path d="M${cx.toFixed(1)} ${y1}V${y2}M${(cx - 4).toFixed(1)} ${y1}h8M${(cx - 4).toFixed(1)} ${y2}h8" stroke="${color}" stroke-width="1.2" fill="none"/>`);
      }
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${p.map(([x, y]) => `${xScale(x).toFixed(1)},${yScale(y).toFixed(1)}`).join(' ')}"/>`);
      for (const [x, y] of p) out.push(`<circle cx="${xScale(x).toFixed(1)}" cy="${yScale(y).toFixed(1)}" r="3.5" fill="${color}"/>`);
    }
    const ly = m.top + 10 + i * 20;
    out.push(`<rect x="${m.left + w + 16}" y="${ly - 9}" width="14" height="4" fill="${color}"/>`);
    out.push(`<text x="${m.left + w + 36}" y="${ly - 3}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
