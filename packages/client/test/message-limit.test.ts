import { startTestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ChatterApiError } from '../src/index.js';
import { closeAllClients, recordClient, uniqueName, waitFor } from './helpers.js';

afterEach(() => closeAllClients());

test('the SDK takes the message length limit from the server\'s hello, not the protocol\'s default', async () => {
  const server = await startTestServer({ messageMaxChars: 16_384, messagesPerSecond: 1000, messageBurst: 1000 });
  try {
    const user = await server.register(uniqueName('long'));
    const c = recordClient(server.url, user.token);
    assert.equal(c.client.messageMaxChars, 4000, 'the default before any hello');
    c.client.connect();
    await waitFor(() => c.client.status === 'online', 'online');
    assert.equal(c.client.messageMaxChars, 16_384);
    const text = 'z'.repeat(16_384);
    const item = c.client.send('general', text);
    await waitFor(() => c.client.pending().every((p) => p.clientId !== item.clientId), 'acked');
    assert.ok(c.client.store.room('general')?.messages.some((m) => m.text === text), 'stored and shown');
    assert.throws(() => c.client.send('general', text + 'z'), (err: ChatterApiError) => /16384/.test(err.fields.text ?? ''));
  } finally {
    await server.close();
  }
});
