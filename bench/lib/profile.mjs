// Summarise a V8 .cpuprofile (from node --cpu-prof): self time per function and per file, so the
// report can say where the server's CPU goes without opening a flame graph.
import { readFileSync } from 'node:fs';

/** @returns {{totalMs: number, functions: {name, where, selfMs, share}[], files: {file, selfMs, share}[]}} */
export function summarizeCpuProfile(path, top = 25) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfTicks = new Map();
  for (const id of profile.samples) selfTicks.set(id, (selfTicks.get(id) ?? 0) + 1);
  const totalUs = profile.endTime - profile.startTime;
  const usPerSample = totalUs / Math.max(1, profile.samples.length);
  const fn = new Map();
  const files = new Map();
  for (const [id, ticks] of selfTicks) {
    const node = byId.get(id);
    const cf = node.callFrame;
    const file = shortFile(cf.url) || `(${cf.functionName || 'native'})`;
    const name = cf.functionName || '(anonymous)';
    const where = cf.url ? `${shortFile(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const f = fn.get(key) ?? { name, where, ticks: 0 };
    f.ticks += ticks;
    fn.set(key, f);
    files.set(file, (files.get(file) ?? 0) + ticks);
  }
  const total = profile.samples.length || 1;
  return {
    totalMs: totalUs / 1000,
    functions: [...fn.values()]
      .sort((a, b) => b.ticks - a.ticks)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: (f.ticks * usPerSample) / 1000, share: f.ticks / total })),
    files: [...files.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([file, ticks]) => ({ file, selfMs: (ticks * usPerSample) / 1000, share: ticks / total })),
  };
}

function shortFile(url) {
  if (!url) return '';
  const s = url.replace(/^file:\/\//, '');
  const nm = s.lastIndexOf('node_modules/');
  if (nm !== -1) return s.slice(nm + 'node_modules/'.length);
  const pk = s.indexOf('/packages/');
  if (pk !== -1) return s.slice(pk + 1);
  return s;
}
