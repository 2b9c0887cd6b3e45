#!/usr/bin/env node
// Runs every test file with Node's test runner. Tests are TypeScript, loaded through tsx, and import
// workspace packages from source (the "source" export condition), so no build is needed first,
// except for the terminal client, whose suites run it built (and which this builds when they run).
// Usage: node scripts/test.mjs [path-filter...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages/protocol/test', 'packages/server/test', 'packages/client/test', 'packages/cli/test', 'packages/web/test', 'bench/test'];
const files = [];
function walk(dir) {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(path);
  }
}
roots.forEach(walk);
const filters = process.argv.slice(2);
const selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (selected.length === 0) {
  console.error(`No test files match ${filters.join(' ')}`);
  process.exit(1);
}
// The CLI suites run the built terminal client (a process start from sources costs seconds of
// compiling); build it first. tsc -b rebuilds only what changed, and checks in about a second when
// nothing did (as after `npm test`'s own build).
if (selected.some((f) => f.startsWith(join('packages', 'cli', 'test')))) {
  const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
  const built = spawnSync(process.execPath, [tsc, '-b', join('packages', 'cli')], { stdio: 'inherit' });
  if (built.status !== 0) {
    console.error('The terminal client does not build (above); its tests would run old code.');
    process.exit(1);
  }
}
const result = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...selected],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
