import { ChatterApi, ChatterClient } from '@chatter/client';
import { startTestServer, type TestServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chatEnv as envFor, command, connectAs, lastLine, Tmux, type TmuxSession, uniqueName } from './helpers.js';

/*
 * Reactions in the full-screen client (tmux, 100x30) against a real server, with a second user on
 * the SDK: `/react` by shortcode, Tab completion of `:codes:`, `/who n` for who reacted.
 */

const tmux = new Tmux();
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let bobClient: ChatterClient;

before(async () => {
  server = await startTestServer({ messagesPerSecond: 10_000, messageBurst: 10_000 });
  alice = await server.register(uniqueName('alice'));
  bob = await server.register(uniqueName('bob'));
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

/** Bob's change is stored once the server acks it. */
function acked(clientId: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const off = bobClient.on('ack', (a) => {
      if (a.clientId === clientId) {
        off();
        resolve();
      }
    });
  });
}

describe('reactions in the terminal', () => {
  test('/react takes a shortcode (:thumbsup:, +1) and toggles; Tab completes :codes:; /who n lists who reacted', async () => {
    const session = tmux.start([], chatEnv(alice.token), { cols: 100, rows: 30 });
    try {
      await session.waitFor('● online');
      const sent = bobClient.send('general', 'ship it');
      await acked(sent.clientId);
      await session.waitFor(`${bob.username}: ship it`);

      await command(session, '/react 1 :thumbsup:');
      await session.waitFor(/ship it {2}👍 1/);
      // The same emoji again, by another of its names, takes it back.
      await command(session, '/react +1');
      await session.waitFor((s) => /ship it\s*$/m.test(s) && !s.includes('👍 1'));

      // Tab completes a shortcode.
      session.type('/react :tad');
      session.keys('Tab');
      await session.waitFor((s) => lastLine(s) === '> /react :tada:');
      session.keys('Enter');
      await session.waitFor(/ship it {2}🎉 1/);

      // Bob too: who reacted, by name, "you" first as the message lists them.
      const message = (await new ChatterApi({ baseUrl: server.url, token: bob.token }).history('general')).messages.find((m) => m.text === 'ship it')!;
      const mine = bobClient.react('general', message.id, '🎉', true);
      await acked(mine.clientId);
      await session.waitFor(/ship it {2}🎉 2/);
      await command(session, '/who 1');
      const screen = await session.waitFor(`Reactions on ${bob.username}'s "ship it":`);
      assert.match(screen, new RegExp(`🎉 2  you, ${bob.username}`));

      // Not an emoji nor a shortcode: said, nothing sent.
      await command(session, '/react :no_such_code_here:');
      await session.waitFor('Not an emoji or a known shortcode: :no_such_code_here:');
      await command(session, '/who 9');
      await session.waitFor('There are fewer than 9 messages here.');

      const stored = (await new ChatterApi({ baseUrl: server.url, token: bob.token }).history('general')).messages.find((m) => m.id === message.id)!;
      assert.deepEqual(stored.reactions, [{ emoji: '🎉', count: 2, users: [alice.user.id, bob.user.id] }]);

      session.type('/quit');
      session.keys('Enter');
      assert.equal(await session.waitForExit(), 0);
    } finally {
      session.kill();
    }
  });
});
