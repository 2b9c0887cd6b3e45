import { spawnServer, startTestServer, type TestServer } from '@chatter/server/testing';
import { LIMITS } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { assertAscending, closeAllClients, recordClient, seed, uniqueName, waitFor } from './helpers.js';

/** Dropped without a closing handshake, as a network drop would. */
function dropSockets(server: TestServer, userId: number): void {
  for (const conn of server.app.gateway.hub.connections) if (conn.user.id === userId) conn.ws.terminate();
}

describe('SDK and the server\'s reply limits', () => {
  afterEach(() => closeAllClients());

  test('a resume larger than one reply is paged to the end: every message once, in order', async () => {
    // 60 messages of 8 KB of JSON each against 64 KiB replies: the resume stops early, several times.
    const server = await startTestServer({ replyMaxBytes: 64 * 1024 });
    try {
      const u = await server.register(uniqueName('pager'));
      const rec = recordClient(server.url, u.token, { history: 0 });
      rec.client.connect();
      await waitFor(() => rec.client.status === 'online', 'online');
      await rec.client.loadRoom('general');
      const start = rec.client.lastSeq('general');
      const text = '"'.repeat(LIMITS.messageMaxChars);
      // Stored while this client hears nothing of it (no fan-out), then the connection drops.
      await seed(server, u.user.id, 60, 'p', () => text);
      dropSockets(server, u.user.id);
      await waitFor(() => rec.client.lastSeq('general') === start + 60, 'caught up', 20_000);
      assert.deepEqual(
        rec.delivered.map((m) => m.seq),
        Array.from({ length: 60 }, (_, i) => start + 1 + i),
      );
      assertAscending(rec.delivered);
    } finally {
      await server.close();
    }
  });

  test('history requests made together are all answered: the SDK sends them one at a time', async () => {
    // The server answers one history request per connection at a time and refuses the others.
    const server = await startTestServer();
    try {
      const u = await server.register(uniqueName('together'));
      await seed(server, u.user.id, 30, 't');
      const rec = recordClient(server.url, u.token, { history: 0 });
      rec.client.connect();
      await waitFor(() => rec.client.status === 'online', 'online');
      // The log starts with the user joining general: the messages are seqs 2-31.
      const pages = await Promise.all(Array.from({ length: 6 }, (_, i) => rec.client.requestHistory('general', { after: i * 5 + 1, limit: 5 })));
      assert.deepEqual(
        pages.map((p) => p.messages.map((m) => m.text)),
        Array.from({ length: 6 }, (_, i) => Array.from({ length: 5 }, (_, k) => `t ${i * 5 + k}`)),
      );
      assert.deepEqual(rec.errors, []);
    } finally {
      await server.close();
    }
  });

  test('a server behind the client (resume_ahead): the room is started over and new messages arrive', async () => {
    // The client holds seq 4 of a server that is then replaced by one with a shorter log (a restore).
    const first = await spawnServer();
    const port = first.port;
    const name = uniqueName('ahead');
    const u1 = await first.register(name);
    const rec = recordClient(first.url, u1.token, { history: 0 });
    rec.client.connect();
    await waitFor(() => rec.client.status === 'online', 'online');
    await rec.client.loadRoom('general');
    const joined = rec.client.lastSeq('general');
    for (const t of ['one', 'two', 'three']) rec.client.send('general', t);
    await waitFor(() => rec.client.lastSeq('general') === joined + 3, 'three delivered');
    rec.client.close();
    await first.dispose();

    const second = await spawnServer({ port });
    try {
      const u2 = await second.register(name);
      rec.client.token = u2.token;
      const resetsBefore = rec.resets.length;
      rec.client.connect();
      await waitFor(() => rec.resets.length > resetsBefore, 'the room reloaded');
      assert.deepEqual(rec.view(), [], 'what the client held of the old log is dropped');
      assert.equal(rec.client.lastSeq('general'), joined, "the new server's log: its own join");
      assert.equal(rec.client.rooms.find((r) => r.id === 'general')!.lastSeq, joined, 'the room list follows the new log too');
      rec.client.send('general', 'fresh');
      await waitFor(() => rec.view().some((m) => m.text === 'fresh'), 'the new message shows');
      assert.deepEqual(
        rec.view().map((m) => [m.seq, m.text]),
        [[joined + 1, 'fresh']],
      );
    } finally {
      closeAllClients();
      await second.dispose();
    }
  });
});
