import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cliEnv, repoRoot, Tmux } from './helpers.js';

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

/** `npm start`'s last step, from source: the server's main module. */
const serverCommand = [process.execPath, '--conditions=source', '--import', 'tsx', join(repoRoot, 'packages/server/src/main.ts')];

describe('npm start', () => {
  const tmux = new Tmux();
  const dataRoot = mkdtempSync(join(tmpdir(), 'chatter-start-'));
  after(() => {
    tmux.destroy();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  test('on a terminal: one human line with the address and the data directory, and a word on Ctrl-C', async () => {
    const dataDir = join(dataRoot, 'tty');
    const session = tmux.startProgram(serverCommand, { CHATTER_PORT: '0', CHATTER_DATA_DIR: dataDir }, { cols: 160, rows: 10 });
    try {
      const banner = /Chatter is running at http:\/\/127\.0\.0\.1:(\d+) — data in (\S+) \(Ctrl-C to stop\)/;
      const screen = await session.waitFor(banner);
      const [, port, shownDir] = banner.exec(screen)!;
      assert.equal(shownDir, dataDir);
      assert.doesNotMatch(screen, /"level"/, `no JSON log lines on a terminal:\n${screen}`);
      const health = await fetch(`http://127.0.0.1:${port}/api/health`);
      assert.equal(health.status, 200, 'it really listens there');
      session.keys('C-c');
      await session.waitFor('Stopping Chatter...');
      assert.equal(await session.waitForExit(), 0);
    } finally {
      session.kill();
    }
  });

  test('in a pipe: JSON log lines only, as before', async () => {
    const child = spawn(serverCommand[0]!, serverCommand.slice(1), {
      env: cliEnv({ CHATTER_PORT: '0', CHATTER_DATA_DIR: join(dataRoot, 'pipe') }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (/"msg":"Chatter listening on http:\/\/127\.0\.0\.1:\d+"/.test(out)) resolve();
        });
        void exited.then((code) => reject(new Error(`the server exited (${code}) before saying where it listens.\nstdout: ${out}\nstderr: ${err}`)));
      });
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const lines = out.split('\n').filter(Boolean);
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
      assert.ok(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'shutting down'));
      assert.doesNotMatch(out, /Chatter is running/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
