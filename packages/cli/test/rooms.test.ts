import { ChatterApi, ChatterClient } from '@chatter/client';
import { startTestServer, type TestServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chatEnv as envFor, command, connectAs, lastLine, runCli, sleep, Tmux, type TmuxSession, uniqueName } from './helpers.js';

/*
 * Rooms and DMs in the full-screen client (tmux, 100x30) and in send/tail, against a real server,
 * with a second user on the SDK.
 */

const tmux = new Tmux();
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let bobClient: ChatterClient;
let bobApi: ChatterApi;

before(async () => {
  server = await startTestServer({ messagesPerSecond: 10_000, messageBurst: 10_000 });
  alice = await server.register(uniqueName('alice'));
  bob = await server.register(uniqueName('bob'));
  bobApi = new ChatterApi({ baseUrl: server.url, token: bob.token });
  bobClient = await connectAs(server.url, bob);
});

after(async () => {
  bobClient.close();
  tmux.destroy();
  await server.close();
});

function chatEnv(token: string): Record<string, string> {
  return envFor(server.url, token);
}

function header(screen: string): string {
  return screen.split('\n')[0]!;
}

/** Bob sends to a room and waits until the server has it. */
async function bobSays(room: string, text: string): Promise<void> {
  const pending = bobClient.send(room, text);
  await new Promise<void>((resolve) => {
    const off = bobClient.on('ack', (a) => {
      if (a.clientId === pending.clientId) {
        off();
        resolve();
      }
    });
  });
}

async function waitUntil<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('rooms in the full-screen chat', () => {
  test('create a room, unread and mentions of another room in the status bar, Alt+n keeps each draft, read on the server at the bottom, /leave', async () => {
    const session = tmux.start([], chatEnv(alice.token), { cols: 100, rows: 30 });
    try {
      await session.waitFor('● online');
      const name = uniqueName('plans');
      await command(session, `/create ${name}`);
      let screen = await session.waitFor(`Created #${name}.`);
      assert.match(header(screen), new RegExp(`^ #${name} `), 'the header names the open room');

      // Bob finds it among the public rooms and joins.
      const { rooms } = await bobApi.publicRooms({ q: name });
      const room = rooms.find((r) => r.name === name)!;
      await bobApi.joinRoom(room.id);
      await session.waitFor(`${bob.username} joined`);

      // A draft in #plans, then to #general (Alt+2: rooms are numbered by name, #general after #plans... or before).
      session.type('half-typed draft');
      await session.waitFor('> half-typed draft');
      session.keys('C-n');
      screen = await session.waitFor((s) => /^ #general /.test(header(s)));
      assert.equal(lastLine(screen), '>', 'the other room has its own (empty) input line');

      await bobSays(room.id, `ping @${alice.username}`);
      await bobSays(room.id, 'second');
      screen = await session.waitFor(new RegExp(`#${name} 2 @1 │`));
      await bobSays('general', 'in general');
      await session.waitFor(`${bob.username}: in general`);

      // Ctrl+P goes back; the draft is where it was; the messages are there and, at the bottom, read.
      session.keys('C-p');
      screen = await session.waitFor((s) => new RegExp(`^ #${name} `).test(header(s)) && lastLine(s) === '> half-typed draft');
      // A "new messages" line above the first message she had not seen.
      assert.match(screen, new RegExp(`─ new messages ─+\\n\\d\\d:\\d\\d ${bob.username}: ping @${alice.username}`));
      assert.doesNotMatch(header(screen), /2 @1/);
      const api = new ChatterApi({ baseUrl: server.url, token: alice.token });
      await waitUntil(async () => (await api.rooms()).rooms.find((r) => r.id === room.id)?.unread === 0, 'the read position to move on the server');

      // Alt+digit opens a room by its number in /rooms.
      session.keys('C-u');
      await command(session, '/rooms');
      screen = await session.waitFor('Rooms (Alt+n opens one');
      const generalNumber = /(\d+) #general/.exec(screen)?.[1];
      assert.ok(generalNumber, screen);
      session.keys(`M-${generalNumber}`);
      await session.waitFor((s) => /^ #general /.test(header(s)));
      session.keys('C-p');
      await session.waitFor((s) => new RegExp(`^ #${name} `).test(header(s)));

      await command(session, '/leave');
      screen = await session.waitFor(`You left #${name}.`);
      assert.match(header(screen), /^ #general /);
      await waitUntil(async () => !(await api.rooms()).rooms.some((r) => r.id === room.id), 'alice out of the room');
      // Not in it any more: /join brings her back, by name.
      await command(session, `/join ${name}`);
      await session.waitFor((s) => new RegExp(`^ #${name} `).test(header(s)) && s.includes('second'));
      session.type('/quit');
      session.keys('Enter');
      assert.equal(await session.waitForExit(), 0);
    } finally {
      session.kill();
    }
  });

  test('/dm opens the same conversation as the other person sees; /edit, /delete, /react by nth newest and by #id', async () => {
    const session = tmux.start([], chatEnv(alice.token), { cols: 100, rows: 30 });
    try {
      await session.waitFor('● online');
      await command(session, `/dm ${bob.username}`);
      await session.waitFor((s) => header(s).startsWith(` @${bob.username} `));
      await command(session, 'first in the dm');
      await command(session, 'second in the dm');
      // Stored (with its time), not only shown as pending (…).
      await session.waitFor(new RegExp(`\\d\\d:\\d\\d ${alice.username}: second in the dm`));
      const { room: dm } = await bobApi.openDm([alice.user.id]);
      await bobSays(dm.id, 'bob answers');
      await session.waitFor(`${bob.username}: bob answers`);

      await command(session, '/edit 3 first, edited');
      await session.waitFor(/first, edited \(edited \d\d:\d\d\)/);
      await command(session, '/edit 1 not mine');
      await session.waitFor('You can only edit your own messages.');
      await command(session, '/react 2 👍');
      await session.waitFor(/second in the dm {2}👍 1/);
      await command(session, '/ids');
      const screen = await session.waitFor('Message ids shown');
      const id = new RegExp(`#(\\d+) ${alice.username}: second in the dm`).exec(screen)?.[1];
      assert.ok(id, screen);
      await command(session, `/delete #${id}`);
      await session.waitFor(`#${id} ${alice.username}: message deleted`);

      const history = await bobApi.history(dm.id);
      assert.deepEqual(
        history.messages.map((m) => [m.text, m.deleted, m.reactions.length]),
        [
          ['first, edited', false, 0],
          ['', true, 0],
          ['bob answers', false, 0],
        ],
      );
      session.type('/quit');
      session.keys('Enter');
      assert.equal(await session.waitForExit(), 0);
    } finally {
      session.kill();
    }
  });

  test('`chatter <room>` opens a room by name, joining a public one; unknown names say so in #general', async () => {
    const name = `Launch ${uniqueName('pad')}`;
    const { room } = await bobApi.createRoom({ name, topic: 'liftoff at noon', visibility: 'public' });
    await bobSays(room.id, 'countdown started');
    const session = tmux.start(['chat', name.toUpperCase()], chatEnv(alice.token), { cols: 100, rows: 30 });
    const lost = tmux.start(['chat', 'no-such-room-here'], chatEnv(alice.token), { cols: 100, rows: 30 });
    try {
      const screen = await session.waitFor((s) => s.includes('countdown started') && s.includes(`Joined #${name}.`));
      assert.match(header(screen), new RegExp(`^ #${name} · liftoff at noon `), 'name and topic in the header');
      const api = new ChatterApi({ baseUrl: server.url, token: alice.token });
      assert.ok((await api.rooms()).rooms.some((r) => r.id === room.id), 'alice is a member now');
      const other = await lost.waitFor('No public room "no-such-room-here"');
      assert.match(header(other), /^ #general /);
      for (const s of [session, lost]) {
        s.type('/quit');
        s.keys('Enter');
        assert.equal(await s.waitForExit(), 0);
      }
    } finally {
      session.kill();
      lost.kill();
    }
  });

  test('@ completion offers the room members first; /invite adds someone to a private room', async () => {
    const carol = await server.register(uniqueName('bo'));
    const session = tmux.start([], chatEnv(alice.token), { cols: 100, rows: 30 });
    try {
      await session.waitFor('● online');
      const name = uniqueName('secret');
      await command(session, `/create ${name} --private`);
      await session.waitFor(`Created the private room #${name}`);
      await command(session, `/invite ${bob.username}`);
      await session.waitFor(`Added ${bob.username} to #${name}.`);
      await waitUntil(async () => (await bobApi.rooms()).rooms.some((r) => r.name === name && r.visibility === 'private'), 'bob in the private room');
      // Bob and carol both start with "bo", and carol's name may go on with "b" (its next letters are
      // the process id in base 36). Typed up to "bob", Tab adds no common letters whether alice's
      // client knows carol yet or not: it offers the candidates, and bob, a member here, comes first.
      await bobSays((await bobApi.rooms()).rooms.find((r) => r.name === name)!.id, `hi ${carol.username}`);
      await session.waitFor(`${bob.username}: hi`);
      session.type('hey @bob');
      session.keys('Tab');
      await session.waitFor((s) => lastLine(s) === `> hey @${bob.username}`);
      session.keys('C-u');
      session.type('/quit');
      session.keys('Enter');
      assert.equal(await session.waitForExit(), 0);
    } finally {
      session.kill();
    }
  });

  test('/notify sets the level on the server for every device; a change made elsewhere shows live (status bar, /rooms)', async () => {
    const dee = await server.register(uniqueName('dee'));
    const deeApi = new ChatterApi({ baseUrl: server.url, token: dee.token });
    const phone = await connectAs(server.url, dee);
    const level = async () => (await deeApi.rooms()).rooms.find((r) => r.id === 'general')?.notify;
    const session = tmux.start([], chatEnv(dee.token), { cols: 100, rows: 30 });
    try {
      await session.waitFor('● online');
      await command(session, '/notify');
      await session.waitFor('#general notifies mentions of you only (the default).');
      await command(session, '/notify all');
      await session.waitFor('#general now notifies every message, on all your devices.');
      assert.equal(await level(), 'all');
      // The other device follows (membership_updated).
      await waitUntil(async () => phone.store.rooms().find((r) => r.id === 'general')?.notify === 'all', "the other device's level");
      assert.match(header(await session.waitFor('(notify: all)')), /#general \(notify: all\)/);

      // Muted from the web app: the status bar and /rooms say so at once.
      await deeApi.updateMembership('general', { notify: 'none' });
      await session.waitFor('#general (muted)');
      await command(session, '/rooms');
      await session.waitFor(/> 1 #general\s+muted/);
      await command(session, '/unmute');
      await session.waitFor('#general now notifies mentions of you only, on all your devices.');
      assert.equal(await level(), 'mentions');
      await session.waitFor((s) => !header(s).includes('(muted)') && !header(s).includes('(notify:'));
      session.type('/quit');
      session.keys('Enter');
      assert.equal(await session.waitForExit(), 0);
    } finally {
      session.kill();
      phone.close();
    }
  });
});

describe('send and tail in any room or DM', () => {
  test('send --room by name, send --dm, tail --dm and tail --room by id', async () => {
    const env = chatEnv(alice.token);
    const { room } = await bobApi.createRoom({ name: uniqueName('Ops Team'), visibility: 'public' });
    await new ChatterApi({ baseUrl: server.url, token: alice.token }).joinRoom(room.id);

    const r1 = await runCli(['send', '--room', room.name, 'deploy done'], { env });
    assert.equal(r1.code, 0, r1.stderr);
    const r2 = await runCli(['send', '--dm', bob.username, '--json', 'psst'], { env });
    assert.equal(r2.code, 0, r2.stderr);
    const ack = JSON.parse(r2.stdout) as { room: string };
    const { room: dm } = await bobApi.openDm([alice.user.id]);
    assert.equal(ack.room, dm.id, 'the DM with bob');

    const t1 = await runCli(['tail', '--dm', alice.username, '--json', '--no-follow', '-n', '1'], { env: chatEnv(bob.token) });
    assert.equal(t1.code, 0, t1.stderr);
    assert.equal((JSON.parse(t1.stdout) as { text: string }).text, 'psst');
    const t2 = await runCli(['tail', '--room', room.id, '--no-follow'], { env });
    assert.equal(t2.code, 0, t2.stderr);
    assert.match(t2.stdout, new RegExp(`<${alice.username}> deploy done`));
    const t3 = await runCli(['tail', `#${room.name.toLowerCase()}`, '--no-follow'], { env });
    assert.match(t3.stdout, /deploy done/, 'a name in any case, with or without #');

    const missing = await runCli(['send', '--room', 'no such room', 'hi'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^chatter: You are not in a room named "no such room"/);
    const both = await runCli(['send', '--room', 'x', '--dm', 'y', 'hi'], { env });
    assert.equal(both.code, 2);
    const nobody = await runCli(['send', '--dm', 'nobody-by-that-name', 'hi'], { env });
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /No user named nobody-by-that-name/);
  });
});
