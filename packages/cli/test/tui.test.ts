import { ChatterClient } from '@chatter/client';
import type { HistoryResponse, Message } from '@chatter/protocol';
import { spawnServer, startTestServer, type TestServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chatEnv, connectAs, lastLine, runCli, sleep, Tmux, type TmuxSession, uniqueName } from './helpers.js';

/*
 * The full-screen client in a real terminal (tmux, 80x24), against a real server: what a person
 * sees after typing, receiving, commands, scrolling back, a server restart, a resize, NO_COLOR.
 */

const tmux = new Tmux();
let server: TestServer;
let alice: TestUser;
let bob: TestUser;

before(async () => {
  // Generous rate limits: one test seeds a long history quickly.
  server = await startTestServer({ messagesPerSecond: 10_000, messageBurst: 10_000 });
  alice = await server.register(uniqueName('alice'));
  bob = await server.register(uniqueName('bob'));
});

after(async () => {
  tmux.destroy();
  await server.close();
});

/** Resolves with the stored message's id. */
async function sendAndWaitAck(client: ChatterClient, text: string, room = 'general'): Promise<number> {
  const pending = client.send(room, text);
  return new Promise<number>((resolve) => {
    const off = client.on('ack', (a) => {
      if (a.clientId === pending.clientId) {
        off();
        resolve(a.messageId ?? 0);
      }
    });
  });
}

async function stored(url: string, token: string): Promise<Message[]> {
  const res = await fetch(`${url}/api/rooms/general/messages?limit=100`, { headers: { Authorization: `Bearer ${token}` } });
  return ((await res.json()) as HistoryResponse).messages;
}

async function quit(session: TmuxSession): Promise<void> {
  session.type('/quit');
  session.keys('Enter');
  assert.equal(await session.waitForExit(), 0);
  assert.match(session.ttyModesAfterExit(), /(^|\s)icanon(\s|$)/, 'the terminal is out of raw mode');
  assert.equal(session.screenModes().alternate, false, 'and back on the normal screen');
}

describe('full-screen chat', () => {
  test('type and send, receive from another client, /who, /help, Tab completion, /quit', async () => {
    const bobClient = await connectAs(server.url, bob);
    const session = tmux.start([], chatEnv(server.url, alice.token));
    try {
      const [first, second] = [alice.username, bob.username].sort();
      let screen = await session.waitFor(`2 online: ${first}, ${second}`);
      assert.match(screen.split('\n')[0]!, /^ #general .*● online\s*$/, 'status bar: room, users, state');
      assert.equal(lastLine(screen), '>', 'an empty input line at the bottom');

      session.type('hello bob, how are you?');
      screen = await session.waitFor('> hello bob, how are you?');
      assert.deepEqual(session.cursor(), { x: 25, y: 23 }, 'the cursor follows the text');
      session.keys('Enter');
      screen = await session.waitFor(new RegExp(`\\d\\d:\\d\\d ${alice.username}: hello bob, how are you\\?`));
      assert.equal(lastLine(screen), '>', 'the input is cleared after sending');
      await waitUntil(async () => (await stored(server.url, alice.token)).some((m) => m.text === 'hello bob, how are you?'));

      const bobsMessage = await sendAndWaitAck(bobClient, 'hi alice! 👋');
      await session.waitFor(new RegExp(`\\d\\d:\\d\\d ${bob.username}: hi alice! 👋`));

      session.type('/who');
      session.keys('Enter');
      await session.waitFor(`Online in #general (2): ${first}, ${second}`);


      session.type('/me waves');
      session.keys('Enter');
      await session.waitFor(`* ${alice.username} waves`);

      // Tab completes user names (with ": " at the start of a line) and command names.
      session.type(bob.username.slice(0, bob.username.length - 2));
      session.keys('Tab');
      await session.waitFor((s) => lastLine(s) === `> ${bob.username}:`);
      assert.equal(session.cursor().x, `> ${bob.username}: `.length, 'a space after the colon');
      session.keys('C-u');
      session.type('/wh');
      session.keys('Tab');
      await session.waitFor((s) => lastLine(s) === '> /who');
      session.keys('C-u');

      // An edit shows in place, marked; /react reacts to the newest message (alice's action).
      bobClient.edit('general', bobsMessage, 'hi alice!! 👋');
      await session.waitFor(/hi alice!! 👋 \(edited \d\d:\d\d\)/);
      session.type('/react 👍');
      session.keys('Enter');
      await session.waitFor(/waves {2}👍 1/);

      // Someone typing shows above the input line, until their message arrives.
      bobClient.typing('general');
      await session.waitFor(`${bob.username} is typing…`);
      await sendAndWaitAck(bobClient, 'typed it');
      screen = await session.waitFor(new RegExp(`${bob.username}: typed it`));
      assert.doesNotMatch(screen, /is typing/);

      // Going offline is presence (the status bar), not leaving the room: no line in the timeline.
      bobClient.close();
      await session.waitFor(`1 online: ${alice.username}`);
      session.type('marker after bob went offline');
      session.keys('Enter');
      screen = await session.waitFor(new RegExp(`${alice.username}: marker after bob went offline`));
      assert.doesNotMatch(screen, new RegExp(`${bob.username} left`));

      // The whole list fits a 24-row terminal: one row per command.
      session.type('/help');
      session.keys('Enter');
      screen = await session.waitFor('Commands:');
      for (const name of ['/help', '/history [n]', '/me <action>', '/quit', '/who', '/rooms', '/join <room>', '/dm <user>', '/edit [n|#id] <text>']) assert.ok(screen.includes(name), `${name} in /help`);
      assert.ok(screen.includes('Ctrl+C quit'), `the keys, last, are on screen too:\n${screen}`);

      await quit(session);
    } finally {
      bobClient.close();
      session.kill();
    }
  });

  test('input line editing: arrows, Home/End, Ctrl+U/W, history recall', async () => {
    const session = tmux.start([], chatEnv(server.url, alice.token));
    try {
      await session.waitFor('● online');
      session.type('world');
      session.keys('Home');
      session.type('hello ');
      session.keys('End');
      session.type('!');
      await session.waitFor('> hello world!');
      session.keys('Left', 'Left', 'BSpace');
      await session.waitFor('> hello word!');
      session.keys('C-w');
      await session.waitFor((s) => lastLine(s) === '> hello d!');
      session.keys('C-u');
      await session.waitFor((s) => lastLine(s) === '> d!');
      session.keys('C-e', 'C-u');
      session.type('recall me');
      session.keys('Enter');
      await session.waitFor(`${alice.username}: recall me`);
      session.keys('Up');
      await session.waitFor((s) => lastLine(s) === '> recall me');
      session.keys('Down');
      await session.waitFor((s) => lastLine(s) === '>');
      // A line longer than the screen scrolls horizontally instead of breaking the layout.
      const long = 'x'.repeat(120);
      session.type(long);
      const screen = await session.waitFor((s) => lastLine(s).startsWith('<'));
      assert.ok(lastLine(screen).length <= 80);
      session.keys('C-u');
      await quit(session);
    } finally {
      session.kill();
    }
  });

  test('history loads on start and Page Up fetches older pages up to the start of the room', async () => {
    const room = await startTestServer({ messagesPerSecond: 10_000, messageBurst: 10_000 });
    const carol = await room.register(uniqueName('carol'));
    const seeder = await connectAs(room.url, carol);
    for (let i = 1; i <= 130; i++) await sendAndWaitAck(seeder, `seed ${String(i).padStart(3, '0')}`);
    seeder.close();
    const session = tmux.start([], chatEnv(room.url, carol.token));
    try {
      let screen = await session.waitFor('seed 130');
      assert.ok(!screen.includes('seed 001'));
      for (let i = 0; i < 20 && !screen.includes('seed 001'); i++) {
        // Each Page Up moves the view or loads an older page: wait for the screen to show it.
        const before = screen;
        session.keys('PageUp');
        screen = await session.waitFor((s) => s !== before && !s.includes('Loading older messages'));
      }
      assert.ok(screen.includes('seed 001'), `Page Up reached the first message:\n${screen}`);
      session.keys('PageUp');
      await session.waitFor('This is the start of #general.');
      assert.match(session.screen(), /PgDn or Esc to jump to the latest/);
      session.keys('Escape');
      screen = await session.waitFor((s) => s.includes('seed 130') && !s.includes('start of #general'));
      // Every seeded message is loaded exactly once (no duplicate from the initial page and the older pages).
      session.type('/history 5');
      session.keys('Enter');
      await session.waitFor('No older messages.');
      await quit(session);
    } finally {
      session.kill();
      await room.close();
    }
  });

  test('reconnects by itself after a server restart; a message typed offline is sent once when back', async () => {
    const proc = await spawnServer();
    const dave = await proc.register(uniqueName('dave'));
    const session = tmux.start([], chatEnv(proc.url, dave.token));
    try {
      await session.waitFor('● online');
      session.type('before the restart');
      session.keys('Enter');
      await session.waitFor(`${dave.username}: before the restart`);

      await proc.stop();
      let screen = await session.waitFor('The server is restarting');
      assert.match(screen.split('\n')[0]!, /offline · retry in \d+s/);
      session.type('typed while offline');
      session.keys('Enter');
      screen = await session.waitFor('1 unsent');
      assert.match(screen, new RegExp(`…\\s+${dave.username}: typed while offline`), 'shown as pending');

      await proc.restart();
      // Delivered: the pending copy ("…") is replaced by the stored message with its time.
      const delivered = new RegExp(`\\d\\d:\\d\\d ${dave.username}: typed while offline`);
      screen = await session.waitFor((s) => s.includes('Reconnected.') && s.includes('● online') && delivered.test(s), 30_000);
      assert.ok(!screen.includes('unsent'), screen);
      assert.doesNotMatch(screen, new RegExp(`…\\s+${dave.username}: typed while offline`), 'no pending copy left');
      const texts = (await stored(proc.url, dave.token)).map((m) => m.text);
      assert.deepEqual(texts, ['before the restart', 'typed while offline'], 'stored once, in order');
      await quit(session);
    } finally {
      session.kill();
      await proc.dispose();
    }
  });

  test('a server that is down: a clear message, retries shown in the status bar, /quit still works (asking first when messages are unsent)', async () => {
    const session = tmux.start([], chatEnv('http://127.0.0.1:9', alice.token));
    try {
      const screen = await session.waitFor('Cannot reach 127.0.0.1:9: is the server running?');
      assert.match(screen, /○ offline · retry in \d+s|reconnecting/);
      assert.doesNotMatch(screen, /\bat .+:\d+:\d+/, 'no stack trace');
      // Quitting with a message still queued asks first: it would be lost.
      session.type('anyone there?');
      session.keys('Enter');
      await session.waitFor('1 unsent');
      session.type('/quit');
      session.keys('Enter');
      await session.waitFor('1 message is not sent yet and would be lost. Quit again to leave anyway.');
      assert.equal(session.exitStatus(), null);
      await quit(session);
    } finally {
      session.kill();
    }
  });

  test('resize (SIGWINCH) redraws at the new size without crashing, down to a tiny window', async () => {
    const session = tmux.start([], chatEnv(server.url, alice.token));
    try {
      await session.waitFor('● online');
      session.type('wide: 漢字テキスト and emoji 🎉🎉 in a message that is long enough to wrap around twice at fifty columns');
      session.keys('Enter');
      await session.waitFor('wide: 漢字テキスト');
      session.resize(50, 15);
      let screen = await session.waitFor((s) => s.split('\n')[0]!.trimEnd().endsWith('● online') && s.split('\n')[0]!.length <= 50);
      assert.equal(session.exitStatus(), null);
      session.resize(12, 4);
      await session.waitFor('Terminal too');
      session.resize(80, 24);
      screen = await session.waitFor((s) => s.includes('● online') && s.includes('wide: 漢字テキスト'));
      assert.equal(session.exitStatus(), null);
      assert.equal(lastLine(screen), '>');
      await quit(session);
    } finally {
      session.kill();
    }
  });

  test('colors: author names are colored, NO_COLOR turns colors off but keeps the layout', async () => {
    const colored = tmux.start([], chatEnv(server.url, alice.token));
    const plain = tmux.start([], chatEnv(server.url, alice.token, { NO_COLOR: '1' }));
    try {
      await colored.waitFor(`${alice.username}:`);
      await plain.waitFor(`${alice.username}:`);
      const colorCode = /\x1b\[[0-9;]*(3[0-7]|38;5;\d+|9[0-7])m/;
      assert.match(colored.screenWithStyles(), colorCode);
      assert.doesNotMatch(plain.screenWithStyles(), colorCode);
      assert.equal(plain.screen().split('\n')[0], colored.screen().split('\n')[0]);
      await quit(colored);
      await quit(plain);
    } finally {
      colored.kill();
      plain.kill();
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} restores the terminal: no raw mode, no alternate screen`, async () => {
      const session = tmux.start([], chatEnv(server.url, alice.token));
      try {
        await session.waitFor('● online');
        assert.equal(session.screenModes().alternate, true, 'the chat uses the alternate screen');
        process.kill(session.pid(), signal);
        assert.equal(await session.waitForExit(), signal === 'SIGINT' ? 130 : 143);
        const modes = session.ttyModesAfterExit();
        assert.match(modes, /(^|\s)icanon(\s|$)/, `canonical mode is back:\n${modes}`);
        assert.match(modes, /(^|\s)echo(\s|$)/, 'echo is back');
        // (tmux reports a dead pane's cursor as hidden whatever the program did, so only the screen is checked.)
        assert.equal(session.screenModes().alternate, false, 'back on the normal screen');
        assert.doesNotMatch(session.transcript(), /\bat .+:\d+:\d+/, 'no stack trace');
      } finally {
        session.kill();
      }
    });
  }

  test('refuses without a terminal, and says so for a bad token before taking over the screen', async () => {
    const piped = await runCli([], { env: chatEnv(server.url, alice.token) });
    assert.equal(piped.code, 2);
    assert.match(piped.stderr, /needs a terminal/);
    const session = tmux.start([], chatEnv(server.url, 'not-a-token'));
    try {
      assert.equal(await session.waitForExit(), 1);
      assert.match(session.transcript().replace(/\n/g, ''), /was not accepted by .+ Run `chatter login`/);
    } finally {
      session.kill();
    }
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}
