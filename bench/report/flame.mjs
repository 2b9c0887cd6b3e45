// Dependency-free flame graphs from V8 .cpuprofile files (what `--profile` records): the call tree,
// root at the bottom, each frame as wide as the CPU time spent in it and everything it called.
// Idle time is left out, so the width is the time the server was busy.

const LEAVE_OUT = new Set(['(idle)']);
const PALETTE = {
  chatter: ['#2563eb', '#3b82f6', '#60a5fa'], // our code: packages/*
  deps: ['#ea580c', '#f97316', '#fb923c'], // node_modules
  node: ['#16a34a', '#22c55e', '#4ade80'], // node: internals
  vm: ['#6b7280', '#9ca3af', '#d1d5db'], // (garbage collector), (program), native
};

function esc(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function kindOf(url) {
  if (!url) return 'vm';
  if (url.startsWith('node:')) return 'node';
  if (url.includes('/node_modules/')) return 'deps';
  return 'chatter';
}

function shortUrl(url) {
  if (!url) return '';
  const s = url.replace(/^file:\/\//, '');
  const nm = s.lastIndexOf('/node_modules/');
  if (nm !== -1) return s.slice(nm + '/node_modules/'.length);
  const pk = s.indexOf('/packages/');
  return pk !== -1 ? s.slice(pk + 1) : s;
}

/**
 * Merge the profile's nodes into a tree of frames keyed by function and place, with the sampled
 * time of each subtree. Nodes of the same function at the same place under the same parent (V8
 * splits them by line position) become one frame.
 * @returns {{name: string, url: string, line: number, self: number, total: number, children: Map<string, object>}}
 */
export function callTree(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = new Map();
  for (const id of profile.samples ?? []) samples.set(id, (samples.get(id) ?? 0) + 1);
  const root = byId.get(profile.nodes[0].id);
  const frame = (name, url, line) => ({ name, url, line, self: 0, total: 0, children: new Map() });
  const tree = frame('all', '', 0);
  const walk = (node, into) => {
    for (const childId of node.children ?? []) {
      const child = byId.get(childId);
      const cf = child.callFrame;
      const name = cf.functionName || (cf.url ? '(anonymous)' : '(native)');
      if (LEAVE_OUT.has(name)) continue;
      const key = `${name}\u0000${cf.url}\u0000${cf.lineNumber}`;
      let f = into.children.get(key);
      if (!f) into.children.set(key, (f = frame(name, cf.url, cf.lineNumber + 1)));
      f.self += samples.get(childId) ?? 0;
      walk(child, f);
    }
  };
  walk(root, tree);
  const sum = (f) => (f.total = f.self + [...f.children.values()].reduce((a, c) => a + sum(c), 0));
  sum(tree);
  return tree;
}

/**
 * An SVG flame graph of a .cpuprofile. Frames narrower than `minPx` are dropped (their time still
 * counts in their parent's width); labels appear where they fit; every frame has a tooltip.
 */
export function flameGraphSvg(profile, { title = 'CPU profile', width = 1200, rowHeight = 17, minPx = 0.3 } = {}) {
  const tree = callTree(profile);
  const usPerSample = (profile.endTime - profile.startTime) / Math.max(1, profile.samples?.length ?? 1);
  const busyMs = (tree.total * usPerSample) / 1000;
  const pad = 10;
  const header = 44;
  const scale = tree.total > 0 ? (width - 2 * pad) / tree.total : 0;
  const rects = [];
  let depthMax = 0;
  const place = (f, x, depth, parentTotal) => {
    const w = f.total * scale;
    if (w < minPx) return;
    depthMax = Math.max(depthMax, depth);
    rects.push({ f, x, w, depth, parentTotal });
    let cx = x;
    // Widest first, so the big callees line up on the left, as in most flame graph tools.
    for (const c of [...f.children.values()].sort((a, b) => b.total - a.total)) {
      place(c, cx, depth + 1, f.total);
      cx += c.total * scale;
    }
  };
  place(tree, pad, 0, tree.total);
  const height = header + (depthMax + 1) * rowHeight + pad + 18;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${pad}" y="18" font-size="14" font-family="system-ui, sans-serif" font-weight="600">${esc(title)}</text>`);
  out.push(
    `<text x="${pad}" y="34" font-family="system-ui, sans-serif" fill="#374151">${esc(`${busyMs.toFixed(0)} ms busy of ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms profiled (idle left out). Width = time in a function and its callees; blue: Chatter, orange: dependencies, green: Node.js, grey: V8.`)}</text>`,
  );
  let i = 0;
  for (const { f, x, w, depth } of rects) {
    const y = height - pad - 18 - (depth + 1) * rowHeight;
    const colors = PALETTE[f === tree ? 'vm' : kindOf(f.url)];
    const fill = colors[i++ % colors.length];
    const ms = (f.total * usPerSample) / 1000;
    const share = tree.total > 0 ? (100 * f.total) / tree.total : 0;
    const where = f.url ? ` ${shortUrl(f.url)}:${f.line}` : '';
    const label = f === tree ? 'all' : f.name;
    out.push(`<g><title>${esc(`${label}${where}\n${ms.toFixed(1)} ms, ${share.toFixed(1)}% of busy time (self ${((f.self * usPerSample) / 1000).toFixed(1)} ms)`)}</title>`);
    out.push(`<rect x="${x.toFixed(2)}" y="${y}" width="${Math.max(0.1, w - 0.5).toFixed(2)}" height="${rowHeight - 1}" fill="${fill}" rx="1"/>`);
    const fits = Math.floor((w - 6) / 6.6);
    if (fits >= 3) {
      const text = label.length <= fits ? label : `${label.slice(0, fits - 1)}…`;
      out.push(`<text x="${(x + 3).toFixed(2)}" y="${y + rowHeight - 5}" fill="${colors === PALETTE.vm ? '#111827' : '#ffffff'}">${esc(text)}</text>`);
    }
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n');
}
