import { DEFAULT_ROOM, LIMITS } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call, expectError } from './http-helpers.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/* CHATTER_MESSAGE_MAX_CHARS: the longest message text, a server setting enforced on every path that takes text. */

/** 4 bytes of UTF-8 each: the heaviest character, so the frame and body limits are put to the test too. */
const EMOJI = '😀';

async function online(server: TestServer, user: TestUser): Promise<TestSocket> {
  const s = connect(server.wsUrl, { token: user.token, params: { history: '0' } });
  await s.next('hello');
  return s;
}

describe('the message length limit is a server setting', () => {
  test('at 16,384: 16 KB messages go through over WebSocket and REST; 16,385 characters are refused with validation_failed', async () => {
    const server = await startTestServer({ messageMaxChars: 16_384, messagesPerSecond: 1000, messageBurst: 1000 });
    const author = await server.register(uniqueName('author'));
    const reader = await server.register(uniqueName('reader'));
    const a = connect(server.wsUrl, { token: author.token, params: { history: '0' } });
    const r = await online(server, reader);
    try {
      const hello = await a.next('hello');
      // Advertised, and the frame limit raised to hold it (4 bytes a character + the frame around it).
      assert.equal(hello.limits.messageMaxChars, 16_384);
      assert.ok(hello.limits.maxFrameBytes >= 4 * 16_384 + 384, `maxFrameBytes ${hello.limits.maxFrameBytes}`);

      // WebSocket send: 16,384 emoji (65,536 bytes of text, more than the default frame limit).
      const longest = EMOJI.repeat(16_384);
      a.send({ type: 'send', room: DEFAULT_ROOM, clientId: 'longest', text: longest });
      const ack = await a.next('ack', (f) => f.clientId === 'longest');
      assert.equal((await r.nextMessage((m) => m.id === ack.messageId)).text, longest);

      // One character more: refused with the catalogue's error, naming the limit; the socket stays open.
      a.send({ type: 'send', room: DEFAULT_ROOM, clientId: 'too-long', text: longest + 'x' });
      const refused = await a.next('error', (e) => e.ref === 'too-long');
      assert.equal(refused.code, 'validation_failed');
      assert.match(refused.message + JSON.stringify(refused.details ?? {}), /16384/);

      // WebSocket edit, the same rule.
      a.send({ type: 'edit', room: DEFAULT_ROOM, clientId: 'edit-too-long', messageId: ack.messageId, text: 'y'.repeat(16_385) });
      assert.equal((await a.next('error', (e) => e.ref === 'edit-too-long')).code, 'validation_failed');
      a.send({ type: 'edit', room: DEFAULT_ROOM, clientId: 'edit-longest', messageId: ack.messageId, text: 'y'.repeat(16_384) });
      assert.equal((await r.nextEvent('message_edited', (e) => e.message.id === ack.messageId)).message.text, 'y'.repeat(16_384));

      // REST edit: a 16,384-emoji body is ~64 KB, past the default body limit, which is raised with it.
      const path = `/api/rooms/${DEFAULT_ROOM}/messages/${ack.messageId}`;
      const edited = await call(server.url, 'PATCH', path, { token: author.token, json: { text: longest } });
      assert.equal(edited.status, 200, edited.text);
      assert.equal(edited.body.message.text, longest);
      const error = expectError(await call(server.url, 'PATCH', path, { token: author.token, json: { text: longest + EMOJI } }), 400, 'validation_failed');
      assert.match(JSON.stringify(error), /16384/);
      const stored = await server.app.store.getMessage(DEFAULT_ROOM, ack.messageId!);
      assert.equal(stored?.text, longest, 'the refused edit changed nothing');
    } finally {
      await Promise.all([a.close(), r.close()]);
      await server.close();
    }
  });

  test('by default the limit is 4,000 characters, advertised in hello', async () => {
    const server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
    const user = await server.register(uniqueName());
    const s = connect(server.wsUrl, { token: user.token, params: { history: '0' } });
    try {
      assert.equal(LIMITS.messageMaxChars, 4000);
      assert.equal((await s.next('hello')).limits.messageMaxChars, 4000);
      s.send({ type: 'send', room: DEFAULT_ROOM, clientId: 'at-limit', text: EMOJI.repeat(4000) });
      await s.next('ack', (f) => f.clientId === 'at-limit');
      s.send({ type: 'send', room: DEFAULT_ROOM, clientId: 'over', text: EMOJI.repeat(4001) });
      assert.equal((await s.next('error', (e) => e.ref === 'over')).code, 'validation_failed');
    } finally {
      await s.close();
      await server.close();
    }
  });
});
