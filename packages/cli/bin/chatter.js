#!/usr/bin/env node
// The `chatter` command. npm links a package's bins when it installs it, which in a fresh clone is
// before anything is built, and it skips a bin whose file does not exist yet: `npx chatter` would
// then look for a package of that name on the registry. So the bin is this committed file, which
// runs the built CLI, building it first when it is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);

if (!existsSync(main)) {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const hasSources = existsSync(new URL('../tsconfig.json', import.meta.url));
  let tsc = null;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    // Not a development checkout (no TypeScript installed): explained below.
  }
  if (!hasSources || !tsc) {
    process.stderr.write(`chatter: the terminal client is not built (${fileURLToPath(main)} is missing). Run \`npm run build\` in the repository, then try again.\n`);
    process.exit(1);
  }
  process.stderr.write('chatter: building the terminal client first (once, a few seconds)...\n');
  // -b builds the packages it depends on too (protocol, client), each only when out of date. Its
  // output goes to stderr: stdout may be a pipe to jq.
  const built = spawnSync(process.execPath, [tsc, '-b', packageDir], { stdio: ['ignore', 2, 2] });
  if (built.status !== 0 || !existsSync(main)) {
    process.stderr.write('chatter: the build failed (see above). Run `npm run build` in the repository to see every error.\n');
    process.exit(1);
  }
}

await import(main.href);
