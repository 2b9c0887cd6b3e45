import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cliEnv, repoRoot } from './helpers.js';

/*
 * What a newcomer runs first. The whole path from a fresh clone (npm ci, npx chatter, npm start,
 * the README's commands) is exercised by scripts/fresh-clone-check.sh in CI; these are the parts
 * that can be checked here quickly.
 */

const shim = join(repoRoot, 'packages/cli/bin/chatter.js');

describe('the chatter bin', () => {
  test('is a committed file that runs the built CLI (npm links it at install, before any build)', () => {
    const r = spawnSync(process.execPath, [shim, '--version'], { env: cliEnv(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^chatter \d+\.\d+\.\d+\n$/);
  });

  test('without a build and without the sources to make one, it says what to run', () => {
    const root = mkdtempSync(join(tmpdir(), 'chatter-bin-'));
    try {
      mkdirSync(join(root, 'bin'));
      copyFileSync(shim, join(root, 'bin/chatter.js'));
      const r = spawnSync(process.execPath, [join(root, 'bin/chatter.js'), '--help'], { env: cliEnv(), encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^chatter: the terminal client is not built \(.+dist\/main\.js is missing\)\. Run `npm run build` in the repository, then try again\.\n$/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
