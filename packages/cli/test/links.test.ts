import { ChatterApi, ChatterClient } from '@chatter/client';
import { startTestServer, type TestServer, type TestUser } from '@chatter/server/testing';
import type { Message } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chatEnv as envFor, command, connectAs, lastLine, Tmux, type TmuxSession, uniqueName } from './helpers.js';

/*
 * Message links in the full-screen client (tmux, 100x30) against a real server: `/link n` prints
 * the web app's link to a message, and `/open <link>` (or `chatter <link>`) opens one, loading the
 * messages around it however far back it is.
 */

const tmux = new Tmux();
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let bobClient: ChatterClient;
/** Bob's messages `m1`..`m120` in #general, oldest first: more than the client loads on start (100). */
let sent: Message[];

before(async () => {
  server = await startTestServer({ messagesPerSecond: 10_000, messageBurst: 10_000 });
  alice = await server.register(uniqueName('alice'));
  bob = await server.register(uniqueName('bob'));
  bobClient = await connectAs(server.url, bob);
  for (let i = 1; i <= 120; i++) await bobSays(`m${i}`);
  const api = new ChatterApi({ baseUrl: server.url, token: bob.token });
  sent = [...(await api.history('general', { limit: 100 })).messages];
  sent.unshift(...(await api.history('general', { before: sent[0]!.seq, limit: 100 })).messages);
  sent = sent.filter((m) => /^m\d+$/.test(m.text));
  assert.equal(sent.length, 120);
});

after(async () => {
  bobClient.close();
  tmux.destroy();
  await server.close();
});

/** Bob sends to #general and waits until the server has it. */
async function bobSays(text: string): Promise<void> {
  const pending = bobClient.send('general', text);
  await new Promise<void>((resolve) => {
    const off = bobClient.on('ack', (a) => {
      if (a.clientId === pending.clientId) {
        off();
        resolve();
      }
    });
  });
}

/** A line of the screen showing bob's message `text`, exactly. */
function shows(text: string): RegExp {
  return new RegExp(`${bob.username}: ${text} *$`, 'm');
}

function linkOf(n: number): string {
  return `${server.url}/#general/m/${sent[n - 1]!.id}`;
}

describe('message links in the terminal', () => {
  test('/link n prints the web app link of the nth newest message; /open <link> jumps back to it, PgDn pages on, Esc returns', async () => {
    const session = tmux.start([], envFor(server.url, alice.token), { cols: 100, rows: 30 });
    try {
      await session.waitFor(shows('m120'));

      // The same numbering as /edit, /react, /delete: 1 = the newest.
      await command(session, '/link 3');
      let screen = await session.waitFor(`Link to ${bob.username}'s "m118":`);
      // Alone on its line (after the output indent), so that copying the line copies the link.
      assert.match(screen, new RegExp(`^ {6}${linkOf(118).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} *$`, 'm'));
      await command(session, '/link');
      await session.waitFor(`Link to ${bob.username}'s "m120":`);
      await command(session, `/link #${sent[99]!.id}`);
      screen = await session.waitFor(`Link to ${bob.username}'s "m100":`);
      assert.ok(screen.includes(linkOf(100)));
      await command(session, '/link 999');
      await session.waitFor('There are fewer than 999 messages here.');
      await command(session, '/link 2 extra');
      await session.waitFor('Usage: /link [n|#id]');

      // m5 is older than what the client loaded: the page around it replaces the view, m5 marked.
      await command(session, `/open ${linkOf(5)}`);
      screen = await session.waitFor(shows('m5'));
      assert.doesNotMatch(screen, shows('m120'));
      assert.match(session.screenWithStyles(), /\x1b\[[0-9;]*7[0-9;]*m\d\d:\d\d /, 'the linked message is marked');
      // Scrolled up inside the window; PgDn reaches its bottom, then loads the next page.
      session.keys('PageDown');
      await session.waitFor('Newer messages not loaded · PgDn loads them');
      session.keys('PageDown');
      await session.waitFor(shows('m40'));
      session.keys('PageDown');
      await session.waitFor('Newer messages not loaded · PgDn loads them');
      // At the bottom of a window that stops before the room's end: what arrives is neither shown
      // nor read. Alice's reaction comes after it in the room's log, on the same socket as a read would.
      await bobSays('after the jump');
      await command(session, '/react 1 👍');
      screen = await session.waitFor(/ {2}👍 1/);
      assert.doesNotMatch(screen, shows('after the jump'));
      const general = (await new ChatterApi({ baseUrl: server.url, token: alice.token }).rooms()).rooms.find((r) => r.id === 'general')!;
      assert.equal(general.unread, 1, 'not marked read');
      // Esc goes back to the room's end, live again.
      session.keys('Escape');
      screen = await session.waitFor(shows('after the jump'));
      assert.match(screen, shows('m120'));

      // Links that lead nowhere: another server, a message that is not there, not a message link.
      await command(session, `/open http://chat.example.org/#general/m/${sent[0]!.id}`);
      await session.waitFor(`That link is to http://chat.example.org; this chat is connected to ${server.url}.`);
      await command(session, `/open ${server.url}/#general/m/987654321`);
      await session.waitFor('That message isn’t there, or you can’t see it.');
      await command(session, `/open ${server.url}/#general`);
      await session.waitFor('That is not a link to a message');

      session.type('/quit');
      session.keys('Enter');
      assert.equal(await session.waitForExit(), 0);
    } finally {
      session.kill();
    }
  });

  test('`chatter <link>` opens the chat at the message; a room the user is not in reads as not there', async () => {
    const session = tmux.start([linkOf(2)], envFor(server.url, alice.token), { cols: 100, rows: 30 });
    try {
      const screen = await session.waitFor(shows('m2'));
      assert.doesNotMatch(screen, shows('m120'));
      // Bob's private room: alice may not know it exists, so the words are those of a missing message.
      const api = new ChatterApi({ baseUrl: server.url, token: bob.token });
      const { room } = await api.createRoom({ name: uniqueName('secret'), visibility: 'private' });
      const sentThere = bobClient.send(room.id, 'hidden');
      const id = await new Promise<number>((resolve) => {
        const off = bobClient.on('ack', (a) => {
          if (a.clientId === sentThere.clientId) {
            off();
            resolve(a.messageId!);
          }
        });
      });
      await command(session, `/open ${server.url}/#${room.id}/m/${id}`);
      await session.waitFor('That message isn’t there, or you can’t see it.');
      session.type('/quit');
      session.keys('Enter');
      assert.equal(await session.waitForExit(), 0);
    } finally {
      session.kill();
    }
  });
});
