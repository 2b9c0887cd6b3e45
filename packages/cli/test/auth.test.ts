import { startTestServer, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, tempConfigDir, Tmux, uniqueName } from './helpers.js';

/*
 * register / login / logout / whoami against a real server. The prompts are driven in tmux (a
 * real terminal), which is also where we check that a password never appears on screen; the
 * config file holding the token must be private (0600 in a 0700 directory).
 */

let server: TestServer;
const tmux = new Tmux();

before(async () => {
  server = await startTestServer();
});

after(async () => {
  tmux.destroy();
  await server.close();
});

interface StoredConfig {
  server?: string;
  sessions: Record<string, { username: string; token: string }>;
}

function readStored(dir: string): StoredConfig {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as StoredConfig;
}

async function meStatus(token: string): Promise<number> {
  const res = await fetch(`${server.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('register, whoami, logout', () => {
  test('register prompts in a terminal, hides the password and stores a private token; logout revokes it', async () => {
    const config = tempConfigDir();
    const username = uniqueName('reg');
    const password = 'sw0rdfish-and-chips';
    const session = tmux.start(['register'], { CHATTER_CONFIG_DIR: config.dir });
    try {
      await session.waitFor('Server URL [http://127.0.0.1:8000]:');
      session.type(server.url);
      session.keys('Enter');
      await session.waitFor('Username:');
      session.type(username);
      session.keys('Enter');
      await session.waitFor('Password:');
      session.type(password);
      session.keys('Enter');
      await session.waitFor('Repeat password:');
      session.type(password);
      session.keys('Enter');
      const screen = await session.waitFor('Welcome');
      assert.equal(await session.waitForExit(), 0);
      assert.ok(!screen.includes(password), `the password must not be echoed:\n${screen}`);
      assert.ok(!screen.includes('*'.repeat(4)), 'not even as asterisks');
      assert.match(screen, new RegExp(`Welcome, ${username}!`));

      const dirMode = statSync(config.dir).mode & 0o777;
      const fileMode = statSync(join(config.dir, 'config.json')).mode & 0o777;
      assert.equal(dirMode.toString(8), '700');
      assert.equal(fileMode.toString(8), '600');
      const stored = readStored(config.dir);
      assert.equal(stored.server, server.url);
      const token = stored.sessions[server.url]?.token;
      assert.ok(token, 'token stored for this server');
      assert.equal(stored.sessions[server.url]?.username, username);
      assert.equal(await meStatus(token), 200);

      // With the server saved, later commands need no flags.
      const who = await runCli(['whoami'], { env: { CHATTER_CONFIG_DIR: config.dir } });
      assert.equal(who.code, 0, who.stderr);
      assert.match(who.stdout, new RegExp(`^${username} on ${server.url.replace(/\./g, '\\.')}`));

      const out = await runCli(['logout'], { env: { CHATTER_CONFIG_DIR: config.dir } });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /Signed out of/);
      assert.equal(await meStatus(token), 401, 'the token is revoked on the server');
      assert.equal(readStored(config.dir).sessions[server.url], undefined, 'and forgotten locally');
      assert.equal((statSync(join(config.dir, 'config.json')).mode & 0o777).toString(8), '600');

      const again = await runCli(['logout'], { env: { CHATTER_CONFIG_DIR: config.dir } });
      assert.equal(again.code, 0);
      assert.match(again.stdout, /Not signed in/);
    } finally {
      session.kill();
      config.cleanup();
    }
  });

  test('register refuses a bad username locally and a taken one from the server', async () => {
    const config = tempConfigDir();
    const taken = await server.register(uniqueName('taken'));
    try {
      const bad = await runCli(['register', '--server', server.url, '--username', 'x'], { env: { CHATTER_CONFIG_DIR: config.dir }, input: 'password123\n' });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /Username: Use 3-32 characters/);
      const dup = await runCli(['register', '--server', server.url], { env: { CHATTER_CONFIG_DIR: config.dir }, input: `${taken.username}\npassword123\n` });
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /That username is taken\./);
      assert.ok(!existsSync(join(config.dir, 'config.json')), 'nothing stored on failure');
    } finally {
      config.cleanup();
    }
  });
});

describe('login', () => {
  test('a wrong password is asked again; the right one signs in (in a terminal)', async () => {
    const config = tempConfigDir();
    const user = await server.register(uniqueName('log'), 'the-right-password');
    const session = tmux.start(['login', '--server', server.url], { CHATTER_CONFIG_DIR: config.dir });
    try {
      await session.waitFor('Username:');
      session.type(user.username);
      session.keys('Enter');
      await session.waitFor('Password:');
      session.type('the-wrong-password');
      session.keys('Enter');
      await session.waitFor('Wrong username or password.');
      // Asked again, with the name typed before as the default.
      await session.waitFor(`Username [${user.username}]:`);
      session.keys('Enter');
      await session.waitFor((s) => s.split('Password:').length === 3);
      session.type('the-right-password');
      session.keys('Enter');
      const screen = await session.waitFor('Signed in to');
      assert.equal(await session.waitForExit(), 0);
      assert.ok(!screen.includes('the-right-password') && !screen.includes('the-wrong-password'), screen);
      const token = readStored(config.dir).sessions[server.url]?.token;
      assert.ok(token);
      assert.equal(await meStatus(token), 200);
    } finally {
      session.kill();
      config.cleanup();
    }
  });

  test('Ctrl+C at a prompt cancels without storing anything', async () => {
    const config = tempConfigDir();
    const session = tmux.start(['login', '--server', server.url], { CHATTER_CONFIG_DIR: config.dir });
    try {
      await session.waitFor('Username:');
      session.keys('C-c');
      assert.equal(await session.waitForExit(), 130);
      assert.match(session.screen(), /Cancelled\./);
      assert.ok(!existsSync(join(config.dir, 'config.json')));
    } finally {
      session.kill();
      config.cleanup();
    }
  });

  test('answers can be piped in for scripts; logging in again revokes the previous session', async () => {
    const config = tempConfigDir();
    const user = await server.register(uniqueName('pipe'), 'piped-password');
    try {
      const first = await runCli(['login'], { env: { CHATTER_CONFIG_DIR: config.dir }, input: `${server.url}\n${user.username}\npiped-password\n` });
      assert.equal(first.code, 0, first.stderr);
      assert.ok(!first.stderr.includes('piped-password'));
      const firstToken = readStored(config.dir).sessions[server.url]!.token;
      const second = await runCli(['login', '--server', server.url, '-u', user.username], { env: { CHATTER_CONFIG_DIR: config.dir }, input: 'piped-password\n' });
      assert.equal(second.code, 0, second.stderr);
      const secondToken = readStored(config.dir).sessions[server.url]!.token;
      assert.notEqual(firstToken, secondToken);
      assert.equal(await meStatus(firstToken), 401);
      assert.equal(await meStatus(secondToken), 200);
      // The session list names the device: the CLI introduces itself in its User-Agent.
      const list = await fetch(`${server.url}/api/me/sessions`, { headers: { Authorization: `Bearer ${secondToken}` } });
      const { sessions } = (await list.json()) as { sessions: { current: boolean; device: string }[] };
      assert.equal(sessions.find((s) => s.current)?.device, 'chatter CLI');
    } finally {
      config.cleanup();
    }
  });

  test('wrong credentials from a pipe fail with the server message; missing answers are reported', async () => {
    const config = tempConfigDir();
    try {
      const wrong = await runCli(['login', '--server', server.url], { env: { CHATTER_CONFIG_DIR: config.dir }, input: 'nobody-here\nwhatever1\n' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^chatter: Wrong username or password\.\n$/m);
      const short = await runCli(['login', '--server', server.url], { env: { CHATTER_CONFIG_DIR: config.dir }, input: 'someone\n' });
      assert.equal(short.code, 1);
      assert.match(short.stderr, /Input ended before every answer was given/);
    } finally {
      config.cleanup();
    }
  });

  test('a server that is down is reported before asking for a password', async () => {
    const config = tempConfigDir();
    try {
      const r = await runCli(['login', '--server', 'http://127.0.0.1:9'], { env: { CHATTER_CONFIG_DIR: config.dir }, input: 'someone\npassword\n' });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Cannot reach http:\/\/127\.0\.0\.1:9: is the server running and the URL right\?/);
      assert.doesNotMatch(r.stderr, /Username:/);
    } finally {
      config.cleanup();
    }
  });
});

describe('config file', () => {
  test('logout with the server down keeps the token unless --force', async () => {
    const config = tempConfigDir();
    const dead = 'http://127.0.0.1:9';
    mkdirSync(config.dir, { recursive: true });
    writeFileSync(join(config.dir, 'config.json'), JSON.stringify({ server: dead, sessions: { [dead]: { username: 'x', token: 'abc', savedAt: '' } } }));
    try {
      const kept = await runCli(['logout'], { env: { CHATTER_CONFIG_DIR: config.dir } });
      assert.equal(kept.code, 1);
      assert.match(kept.stderr, /was not revoked and is still saved/);
      assert.ok(readStored(config.dir).sessions[dead]);
      const forced = await runCli(['logout', '--force'], { env: { CHATTER_CONFIG_DIR: config.dir } });
      assert.equal(forced.code, 0);
      assert.equal(readStored(config.dir).sessions[dead], undefined);
    } finally {
      config.cleanup();
    }
  });

  test('a config directory with loose permissions is tightened when the token is written', async () => {
    const config = tempConfigDir();
    const user = await server.register(uniqueName('perm'), 'perm-password');
    mkdirSync(config.dir, { recursive: true });
    chmodSync(config.dir, 0o755);
    writeFileSync(join(config.dir, 'config.json'), '{"sessions":{}}', { mode: 0o644 });
    try {
      const r = await runCli(['login', '--server', server.url, '-u', user.username], { env: { CHATTER_CONFIG_DIR: config.dir }, input: 'perm-password\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((statSync(config.dir).mode & 0o777).toString(8), '700');
      assert.equal((statSync(join(config.dir, 'config.json')).mode & 0o777).toString(8), '600');
    } finally {
      config.cleanup();
    }
  });

  test('a corrupt config file gives a clear message', async () => {
    const config = tempConfigDir();
    mkdirSync(config.dir, { recursive: true });
    writeFileSync(join(config.dir, 'config.json'), '{not json');
    try {
      const r = await runCli(['whoami'], { env: { CHATTER_CONFIG_DIR: config.dir } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /config\.json is not valid JSON\. Fix it or delete it/);
    } finally {
      config.cleanup();
    }
  });

  test('XDG_CONFIG_HOME is used when CHATTER_CONFIG_DIR is not set', async () => {
    const config = tempConfigDir();
    const user = await server.register(uniqueName('xdg'), 'xdg-password');
    try {
      const r = await runCli(['login', '--server', server.url, '-u', user.username], { env: { XDG_CONFIG_HOME: config.dir }, input: 'xdg-password\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(join(config.dir, 'chatter', 'config.json')));
    } finally {
      config.cleanup();
    }
  });
});
